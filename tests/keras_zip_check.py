#!/usr/bin/env python3
# tests/keras_zip_check.py: checks nnlite's .keras files from Python the way Keras 3's saving_lib reads them (zip
# members, metadata.json and config.json keys, module/registered_name strings, build configs, the variable paths
# and order in model.weights.h5, dtypes), against the layout of Keras 3.4.1 (saving_lib.py, serialization_lib.py,
# Sequential.get_config, BaseOptimizer variables: iterations, learning_rate, then slots interleaved per weight).

# usage: keras_zip_check.py <dir>   where <dir> holds what `nnlite_keras_writer keras <dir>` (tests/keras_writer.cpp) wrote. Exit 0 pass, 1 fail,
# 77 skip.
import io
import json
import re
import sys
import zipfile

try:
    import h5py
    import numpy as np
except ImportError as e:  # ctest reports SKIP_RETURN_CODE 77 as skipped
    print(f"SKIP: h5py/numpy not available to {sys.executable}: {e}")
    sys.exit(77)

# tests/keras_zip_models.hpp's every_layer_model: (name, class, weight shapes in Keras' order, trainable count).
LAYERS = [
    ("zero_padding2d", "ZeroPadding2D", [], 0, [None, 8, 8, 2]),
    ("rescaling", "Rescaling", [], 0, [None, 9, 11, 2]),
    ("conv2d", "Conv2D", [(3, 3, 2, 4), (4,)], 2, [None, 9, 11, 2]),
    ("batch_normalization", "BatchNormalization", [(4,), (4,), (4,), (4,)], 2, [None, 7, 9, 4]),
    ("re_lu", "ReLU", [], 0, [None, 7, 9, 4]),
    ("depthwise_conv2d", "DepthwiseConv2D", [(3, 3, 4, 1), (4,)], 2, [None, 7, 9, 4]),
    ("separable_conv2d", "SeparableConv2D", [(3, 3, 4, 1), (1, 1, 4, 4), (4,)], 3, [None, 7, 9, 4]),
    ("leaky_re_lu", "LeakyReLU", [], 0, [None, 7, 9, 4]),
    ("elu", "ELU", [], 0, [None, 7, 9, 4]),
    ("spatial_dropout2d", "SpatialDropout2D", [], 0, [None, 7, 9, 4]),
    ("max_pooling2d", "MaxPooling2D", [], 0, [None, 7, 9, 4]),
    ("gaussian_noise", "GaussianNoise", [], 0, [None, 3, 4, 4]),
    ("average_pooling2d", "AveragePooling2D", [], 0, [None, 3, 4, 4]),
    ("conv2d_1", "Conv2D", [(1, 1, 4, 3), (3,)], 2, [None, 3, 4, 4]),
    ("global_average_pooling2d", "GlobalAveragePooling2D", [], 0, [None, 3, 4, 3]),
    ("global_max_pooling2d", "GlobalMaxPooling2D", [], 0, [None, 1, 1, 3]),
    ("dense", "Dense", [(3, 6), (6,)], 2, [None, 3]),
    ("p_re_lu", "PReLU", [(6,)], 1, [None, 6]),
    ("dropout", "Dropout", [], 0, [None, 6]),
    ("reshape", "Reshape", [], 0, [None, 6]),
    ("flatten", "Flatten", [], 0, [None, 2, 3]),
    ("activation", "Activation", [], 0, [None, 6]),
    ("dense_1", "Dense", [(6, 3), (3,)], 2, [None, 6]),
    ("softmax", "Softmax", [], 0, [None, 3]),
]
# file stem -> (dtype, optimizer class, slots per trainable weight, iterations) or None when not compiled
FILES = {
    "every_layer_float": ("float32", "Adam", ["momentum", "velocity"], 2),
    "every_layer_double": ("float64", "SGD", ["momentum"], 0),
    "every_layer_uncompiled": ("float32", None, [], 0),
}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)
    return cond


def check_policy(p, dtype, where):
    check(isinstance(p, dict) and p.get("module") == "keras" and p.get("class_name") == "DTypePolicy"
          and p.get("config") == {"name": dtype} and "registered_name" in p and p["registered_name"] is None,
          f"{where}: dtype is Keras 3's DTypePolicy({dtype}), got {p}")


def check_file(stem, dtype, opt_class, slots, iterations):
    path = f"{sys.argv[1]}/{stem}.keras"
    print("checking", path)
    with zipfile.ZipFile(path) as z:
        check(z.testzip() is None, f"{stem}: every member's CRC is right")
        names = [i.filename for i in z.infolist()]
        check(names == ["metadata.json", "config.json", "model.weights.h5"],
              f"{stem}: members are metadata.json, config.json, model.weights.h5 in Keras' order, got {names}")
        meta = json.loads(z.read("metadata.json"))
        config = json.loads(z.read("config.json"))
        weights = z.read("model.weights.h5")

    check(set(meta) == {"keras_version", "date_saved"}, f"{stem}: metadata.json keys, got {sorted(meta)}")
    check(re.fullmatch(r"3\.\d+\.\d+", meta.get("keras_version", "")) is not None,
          f"{stem}: keras_version is a Keras 3 version, got {meta.get('keras_version')}")
    check(re.fullmatch(r"\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d", meta.get("date_saved", "")) is not None,
          f"{stem}: date_saved is %Y-%m-%d@%H:%M:%S, got {meta.get('date_saved')}")

    # config.json: serialize_keras_object(model)
    expected_top = {"module", "class_name", "config", "registered_name", "build_config"}
    if opt_class:
        expected_top.add("compile_config")
    check(set(config) == expected_top, f"{stem}: config.json keys {sorted(config)}, expected {sorted(expected_top)}")
    check(config.get("module") == "keras" and config.get("class_name") == "Sequential"
          and config.get("registered_name") is None, f"{stem}: module keras, class Sequential, registered_name null")
    check(config.get("build_config") == {"input_shape": [None, 8, 8, 2]}, f"{stem}: build_config")
    mc = config["config"]
    check(mc.get("name") == "every_layer" and mc.get("trainable") is True, f"{stem}: Sequential name and trainable")
    check_policy(mc.get("dtype"), dtype, f"{stem}: Sequential")
    check(mc.get("build_input_shape") == [None, 8, 8, 2], f"{stem}: build_input_shape")
    layers = mc["layers"]
    check(len(layers) == len(LAYERS) + 1, f"{stem}: {len(LAYERS)} layers and an InputLayer")
    first = layers[0]
    check(first.get("module") == "keras.layers" and first.get("class_name") == "InputLayer"
          and first.get("registered_name", 0) is None, f"{stem}: InputLayer entry")
    check(first["config"].get("batch_shape") == [None, 8, 8, 2] and first["config"].get("dtype") == dtype
          and first["config"].get("sparse") is False, f"{stem}: InputLayer config {first['config']}")
    for entry, (name, cls, _, _, input_shape) in zip(layers[1:], LAYERS):
        where = f"{stem}: layer {name}"
        check(set(entry) == {"module", "class_name", "config", "registered_name", "build_config"},
              f"{where}: entry keys {sorted(entry)}")
        check(entry.get("module") == "keras.layers" and entry.get("class_name") == cls
              and entry.get("registered_name", 0) is None, f"{where}: module keras.layers, class {cls}")
        check(entry["config"].get("name") == name and entry["config"].get("trainable") is True, f"{where}: name")
        check_policy(entry["config"].get("dtype"), dtype, where)
        check(entry.get("build_config") == {"input_shape": input_shape},
              f"{where}: build_config {entry.get('build_config')}, expected input_shape {input_shape}")

    if opt_class:
        cc = config["compile_config"]
        for key in ("optimizer", "loss", "loss_weights", "metrics", "weighted_metrics", "run_eagerly",
                    "steps_per_execution", "jit_compile"):
            check(key in cc, f"{stem}: compile_config has {key}")
        opt = cc["optimizer"]
        check(opt.get("module") == "keras.optimizers" and opt.get("class_name") == opt_class
              and "registered_name" in opt and opt["registered_name"] is None, f"{stem}: serialized optimizer {opt}")
        oc = opt["config"]
        check(oc.get("name") == opt_class.lower(), f"{stem}: optimizer name")
        for key in ("learning_rate", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue", "use_ema",
                    "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor", "gradient_accumulation_steps"):
            check(key in oc, f"{stem}: optimizer config has BaseOptimizer's {key}")
        check("decay" not in oc, f"{stem}: no tf.keras 2 'decay' in a Keras 3 optimizer config")
        check(cc["loss"] == "categorical_crossentropy" and cc["metrics"] == ["accuracy"], f"{stem}: loss, metrics")

    # model.weights.h5: H5IOStore's layout
    f = h5py.File(io.BytesIO(weights), "r")
    check("vars" in f and len(f["vars"]) == 0, f"{stem}: the model's own (empty) /vars")
    check(sorted(f["layers"]) == sorted(n for n, *_ in LAYERS), f"{stem}: a group per layer, got {sorted(f['layers'])}")
    trainable = []
    for name, cls, shapes, n_trainable, _ in LAYERS:
        g = f[f"layers/{name}/vars"]
        check(sorted(g) == [str(i) for i in range(len(shapes))], f"{stem}: layers/{name}/vars holds 0..{len(shapes) - 1}")
        for i, shape in enumerate(shapes):
            ds = g[str(i)]
            check(ds.shape == shape and ds.dtype == np.dtype(dtype),
                  f"{stem}: layers/{name}/vars/{i} is {dtype} {shape}, got {ds.dtype} {ds.shape}")
            if i < n_trainable:
                trainable.append((f"layers/{name}/vars/{i}", shape))
    bn = f["layers/batch_normalization/vars"]
    check(np.all(bn["3"][()] > 0), f"{stem}: BatchNormalization vars/3 is moving_variance (positive)")

    if not opt_class:
        check("optimizer" not in f, f"{stem}: no optimizer group for an uncompiled model")
        return
    ov = f["optimizer/vars"]
    expected = 2 + len(slots) * len(trainable)
    check(sorted(ov, key=int) == [str(i) for i in range(expected)], f"{stem}: optimizer/vars holds 0..{expected - 1}")
    check(ov["0"].shape == () and ov["0"].dtype == np.int64 and ov["0"][()] == iterations,
          f"{stem}: optimizer/vars/0 is iterations (int64 {iterations}), got {ov['0'].dtype} {ov['0'][()]}")
    check(ov["1"].shape == () and ov["1"].dtype == np.float32 and ov["1"][()] == np.float32(oc["learning_rate"]),
          f"{stem}: optimizer/vars/1 is the float32 learning rate")
    for w, (wpath, shape) in enumerate(trainable):
        for s, slot in enumerate(slots):
            if not check(str(2 + w * len(slots) + s) in ov, f"{stem}: optimizer/vars/{2 + w * len(slots) + s} exists"):
                continue
            ds = ov[str(2 + w * len(slots) + s)]
            check(ds.shape == shape and ds.dtype == np.dtype(dtype),
                  f"{stem}: optimizer/vars/{2 + w * len(slots) + s} is the {slot} of {wpath} ({dtype} {shape}), "
                  f"got {ds.dtype} {ds.shape}")
    if iterations > 0 and opt_class == "Adam":
        # After real steps the velocity (squared gradients) is positive somewhere and never negative.
        v = ov["3"][()]
        check(np.all(v >= 0) and np.any(v > 0), f"{stem}: optimizer/vars/3 is conv2d kernel's velocity")


for stem, spec in FILES.items():
    check_file(stem, *spec)
if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all .keras layout checks passed")
