#!/usr/bin/env python3
# tests/keras_h5_check.py: checks nnlite's .h5 files from Python the way Keras' legacy h5 loader reads them
# (attribute names and string types, layer/weight order, dataset paths, shapes, dtypes) and re-runs the models in NumPy.

# usage: keras_h5_check.py <dir>   where <dir> holds what `nnlite_keras_writer h5 <dir>` (tests/keras_writer.cpp) wrote. Exit 0 pass, 1 fail, 77 skip.
import json
import os
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:  # ctest reports SKIP_RETURN_CODE 77 as skipped
    print(f"SKIP: h5py/numpy not available to {sys.executable}: {e}")
    sys.exit(77)

HEADER_LIMIT = 64512  # Keras' HDF5_OBJECT_HEADER_LIMIT

# (class, expected options, weight shapes) per layer of the two study models, as Keras would name them.
FIRST = [
    ("conv2d", "Conv2D", {"filters": 64, "kernel_size": [3, 3], "activation": "relu", "padding": "valid",
                          "strides": [1, 1]}, [(3, 3, 1, 64), (64,)]),
    ("max_pooling2d", "MaxPooling2D", {"pool_size": [2, 2], "strides": [2, 2], "padding": "valid"}, []),
    ("conv2d_1", "Conv2D", {"filters": 64, "kernel_size": [3, 3], "activation": "relu"}, [(3, 3, 64, 64), (64,)]),
    ("max_pooling2d_1", "MaxPooling2D", {"pool_size": [2, 2]}, []),
    ("flatten", "Flatten", {}, []),
    ("dense", "Dense", {"units": 128, "activation": "relu"}, [(1600, 128), (128,)]),
    ("dropout", "Dropout", {"rate": 0.2}, []),
    ("dense_1", "Dense", {"units": 10, "activation": "softmax"}, [(128, 10), (10,)]),
]
IMPROVED = [
    ("conv2d", "Conv2D", {"filters": 32, "kernel_size": [3, 3], "activation": "relu"}, [(3, 3, 1, 32), (32,)]),
    ("max_pooling2d", "MaxPooling2D", {"pool_size": [2, 2]}, []),
    ("dropout", "Dropout", {"rate": 0.25}, []),
    ("conv2d_1", "Conv2D", {"filters": 64, "kernel_size": [3, 3], "activation": "relu"}, [(3, 3, 32, 64), (64,)]),
    ("max_pooling2d_1", "MaxPooling2D", {"pool_size": [2, 2]}, []),
    ("dropout_1", "Dropout", {"rate": 0.3}, []),
    ("flatten", "Flatten", {}, []),
    ("dense", "Dense", {"units": 128, "activation": "relu"}, [(1600, 128), (128,)]),
    ("dropout_2", "Dropout", {"rate": 0.3}, []),
    ("dense_1", "Dense", {"units": 10, "activation": "softmax"}, [(128, 10), (10,)]),
]
# file stem -> (layers, total params, weight dtype, tolerance against nnlite's predictions)
MODELS = {
    "first": (FIRST, 243786, np.float32, 1e-5),
    "improved": (IMPROVED, 225034, np.float32, 1e-5),
    "first_double": (FIRST, 243786, np.float64, 1e-12),
}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)
    return cond


def fixed_string_attr(obj, name, where):
    """The attribute must be a fixed-length string (what Keras <= 2.3 on h5py 3 can decode)."""
    tid = obj.attrs.get_id(name).get_type()
    check(isinstance(tid, h5py.h5t.TypeStringID), f"{where}@{name} is a string type")
    if isinstance(tid, h5py.h5t.TypeStringID):
        check(not tid.is_variable_str(), f"{where}@{name} is a fixed-length string")


def decode(v):
    return v.decode("utf8") if hasattr(v, "decode") else v


def load_attributes(group, name):
    """keras/src/legacy/saving/legacy_h5_format.py load_attributes_from_hdf5_group, chunks included."""
    if name in group.attrs:
        return [decode(n) for n in group.attrs[name]]
    data, chunk = [], 0
    while f"{name}{chunk}" in group.attrs:
        data.extend(decode(n) for n in group.attrs[f"{name}{chunk}"])
        chunk += 1
    return data


def conv2d(x, k, b, strides, padding):
    n, h, w, c = x.shape
    kh, kw = k.shape[:2]
    sh, sw = strides
    if padding == "same":  # TF's rule: the odd padded cell goes after
        oh, ow = -(-h // sh), -(-w // sw)
        ph, pw = max((oh - 1) * sh + kh - h, 0), max((ow - 1) * sw + kw - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]  # n,oh,ow,c,kh,kw
    return np.einsum("nhwcij,ijco->nhwo", win, k) + b


def maxpool(x, pool, strides):
    win = np.lib.stride_tricks.sliding_window_view(x, tuple(pool), axis=(1, 2))[:, ::strides[0], ::strides[1]]
    return win.max(axis=(4, 5))


def activation(x, name):
    if name == "relu":
        return np.maximum(x, 0)
    if name == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    assert name == "linear", name
    return x


def forward(layers, weights, x):
    """A NumPy forward pass in Keras' layouts (NHWC activations, HWIO kernels, (in, out) dense kernels)."""
    for entry in layers:
        cls, cfg = entry["class_name"], entry["config"]
        w = weights[cfg["name"]]
        if cls == "Conv2D":
            x = activation(conv2d(x, w[0], w[1], cfg["strides"], cfg["padding"]), cfg["activation"])
        elif cls == "MaxPooling2D":
            x = maxpool(x, cfg["pool_size"], cfg["strides"] or cfg["pool_size"])
        elif cls == "Flatten":
            x = x.reshape(x.shape[0], -1)
        elif cls == "Dense":
            x = activation(x @ w[0] + w[1], cfg["activation"])
        elif cls == "Dropout":
            pass  # inference
        else:
            raise AssertionError(f"unexpected layer class {cls}")
    return x


def check_model(directory, stem, spec):
    layers, total_params, dtype, tol = spec
    path = os.path.join(directory, stem + ".h5")
    print(f"== {path}")
    with h5py.File(path, "r") as f:
        for name in ("keras_version", "backend", "model_config", "training_config"):
            if check(name in f.attrs, f"{stem}: root attribute {name}"):
                fixed_string_attr(f, name, stem)
        check(decode(f.attrs["backend"]) == "tensorflow", f"{stem}: backend")
        check(decode(f.attrs["keras_version"]).count(".") == 2, f"{stem}: keras_version is a version string")

        # What load_model_from_hdf5 does first: decode model_config and rebuild.
        mc = json.loads(decode(f.attrs["model_config"]))
        check(mc["class_name"] == "Sequential", f"{stem}: Sequential")
        check("keras_version" in mc and mc.get("backend") == "tensorflow", f"{stem}: model_config version/backend")
        cfg_layers = mc["config"]["layers"]
        check(cfg_layers[0]["class_name"] == "InputLayer", f"{stem}: InputLayer first")
        check(cfg_layers[0]["config"]["batch_input_shape"] == [None, 28, 28, 1], f"{stem}: batch_input_shape")
        check(cfg_layers[1]["config"].get("batch_input_shape") == [None, 28, 28, 1],
              f"{stem}: batch_input_shape on the first layer")
        want_dtype = "float32" if dtype == np.float32 else "float64"
        body = cfg_layers[1:]
        check([e["class_name"] for e in body] == [l[1] for l in layers], f"{stem}: layer classes")
        check([e["config"]["name"] for e in body] == [l[0] for l in layers], f"{stem}: layer names")
        for (name, cls, opts, _), e in zip(layers, body):
            c = e["config"]
            check(c["dtype"] == want_dtype, f"{stem}/{name}: dtype {c['dtype']}")
            for k, v in opts.items():
                check(c.get(k) == v, f"{stem}/{name}: {k} = {c.get(k)!r}, expected {v!r}")
            if cls == "Conv2D":
                check(c["data_format"] == "channels_last" and c["dilation_rate"] == [1, 1], f"{stem}/{name}: conv")

        tc = json.loads(decode(f.attrs["training_config"]))
        check(tc["loss"] == "categorical_crossentropy", f"{stem}: loss")
        check("loss_weights" in tc, f"{stem}: loss_weights key (Keras reads it unconditionally)")
        oc = tc["optimizer_config"]
        check(oc["class_name"] == "Adam" and oc["config"]["learning_rate"] > 0, f"{stem}: optimizer_config")

        # load_weights_from_hdf5_group: layer_names, then each layer's weight_names in order.
        g = f["model_weights"]
        for name in ("layer_names", "backend", "keras_version"):
            if check(name in g.attrs, f"{stem}: model_weights@{name}"):
                fixed_string_attr(g, name, stem + "/model_weights")
        layer_names = load_attributes(g, "layer_names")
        check(layer_names == [l[0] for l in layers], f"{stem}: layer_names {layer_names}")
        weights, n_params = {}, 0
        for name, cls, _, shapes in layers:
            lg = g[name]
            wn_attr = lg.attrs["weight_names"]
            if not shapes:
                # Keras writes np.asarray([]): an empty float64 array.
                check(wn_attr.dtype == np.float64 and wn_attr.shape == (0,),
                      f"{stem}/{name}: weightless weight_names is an empty float64 array ({wn_attr.dtype})")
                weights[name] = []
                continue
            fixed_string_attr(lg, "weight_names", f"{stem}/{name}")
            wn = load_attributes(lg, "weight_names")
            check(wn == [f"{name}/kernel:0", f"{name}/bias:0"], f"{stem}/{name}: weight_names {wn}")
            arrays = []
            for w_name, shape in zip(wn, shapes):
                ds = lg[w_name]
                check(ds.name == f"/model_weights/{name}/{w_name}", f"{stem}: dataset path {ds.name}")
                check(ds.shape == shape, f"{stem}/{w_name}: shape {ds.shape}, expected {shape}")
                check(ds.dtype == np.dtype(dtype), f"{stem}/{w_name}: dtype {ds.dtype}")
                check(ds.id.get_type().get_order() == h5py.h5t.ORDER_LE, f"{stem}/{w_name}: little-endian")
                arrays.append(np.asarray(ds))
                n_params += int(np.prod(ds.shape))
            weights[name] = arrays
        check(n_params == total_params, f"{stem}: {n_params} parameters, expected {total_params}")
        if "top_level_model_weights" in g:
            check(len(load_attributes(g["top_level_model_weights"], "weight_names")) == 0,
                  f"{stem}: top_level_model_weights is empty")

        x = np.load(os.path.join(directory, stem + "_input.npy"))
        want = np.load(os.path.join(directory, stem + "_predictions.npy"))
        check(x.dtype == dtype and want.dtype == dtype, f"{stem}: .npy dtypes")
        got = forward(body, weights, x.astype(np.float64))
        err = float(np.max(np.abs(got - want)))
        print(f"   NumPy forward pass vs nnlite: max |diff| = {err:.3g} (tolerance {tol:g})")
        check(err <= tol, f"{stem}: NumPy predictions differ from nnlite's by {err}")
        # Predictions that barely depend on the input would make the comparison vacuous.
        check(float(np.max(np.abs(want - 0.1))) > 1e-3, f"{stem}: predictions are not all uniform")
        check(np.array_equal(got.argmax(1), want.argmax(1)), f"{stem}: same predicted classes")


def main():
    if len(sys.argv) != 2:
        print(__doc__ or "usage: keras_h5_check.py <dir>")
        return 2
    directory = sys.argv[1]
    for stem, spec in MODELS.items():
        try:
            check_model(directory, stem, spec)
        except Exception as e:  # a missing attribute or dataset is a failure, not a crash
            check(False, f"{stem}: {type(e).__name__}: {e}")
    # A model whose layer_names exceed the object-header limit: split into layer_names0, layer_names1, ...
    chunked = os.path.join(directory, "chunked.h5")
    if os.path.exists(chunked):
        with h5py.File(chunked, "r") as f:
            g = f["model_weights"]
            check("layer_names" not in g.attrs and "layer_names0" in g.attrs and "layer_names1" in g.attrs,
                  "chunked: layer_names split into layer_names0, layer_names1, ...")
            for k in g.attrs:
                if k.startswith("layer_names"):
                    fixed_string_attr(g, k, "chunked/model_weights")
                    check(g.attrs[k].nbytes <= HEADER_LIMIT, f"chunked: {k} within the header limit")
            names = load_attributes(g, "layer_names")
            mc = json.loads(decode(f.attrs["model_config"]))
            check(names == [e["config"]["name"] for e in mc["config"]["layers"][1:]], "chunked: names in order")
    else:
        check(False, f"missing {chunked}")
    # An optimizer with a learning-rate schedule: Keras 3's serialize() form, which keras.optimizers.schedules
    # .deserialize (and tf.keras 2.13+) read: module, class_name, config with the constructor's names, registered_name.
    scheduled = os.path.join(directory, "scheduled.h5")
    if os.path.exists(scheduled):
        with h5py.File(scheduled, "r") as f:
            tc = json.loads(decode(f.attrs["training_config"]))
            oc = tc["optimizer_config"]
            check(oc["class_name"] == "SGD" and oc["config"]["momentum"] == 0.9, "scheduled: optimizer_config")
            lr = oc["config"]["learning_rate"]
            check(isinstance(lr, dict) and sorted(lr) == ["class_name", "config", "module", "registered_name"],
                  f"scheduled: learning_rate is a serialized schedule {lr!r}")
            check(lr.get("module") == "keras.optimizers.schedules" and lr.get("registered_name") is None,
                  "scheduled: schedule module and registered_name")
            check(lr.get("class_name") == "ExponentialDecay", "scheduled: schedule class")
            check(lr.get("config") == {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5,
                                       "staircase": True, "name": "ExponentialDecay"},
                  f"scheduled: ExponentialDecay config {lr.get('config')!r}")
            check(isinstance(lr.get("config", {}).get("decay_steps"), int), "scheduled: decay_steps is an int")
    else:
        check(False, f"missing {scheduled}")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
