#!/usr/bin/env python3
# End-to-end checks of the fashion_mnist app (stdlib only): outputs, PNG files, evaluate, resume after a simulated
# and a real kill, after SIGTERM and SIGINT, the iteration lock, CLI errors, --optimizer and --early-stopping, and
# evaluate of Keras files compiled with other losses (evaluate_losses: the Keras fixtures, edited with h5py),
# --lr-schedule, --reduce-lr-on-plateau and --checkpoint-best (lr_options).
# Usage: example_app_check.py MODE APP SCRATCH_DIR; exit 77 = skipped (no data).
import fcntl
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib

DATA_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
DATA_DIRS = [os.environ.get("FASHION_MNIST_DIR", ""), "/usr/share/datasets/fashion-mnist"]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def data_dir():
    for d in DATA_DIRS:
        if d and all(os.path.exists(os.path.join(d, f)) or os.path.exists(os.path.join(d, f + ".gz")) for f in DATA_FILES):
            return d
    print("SKIP: no Fashion-MNIST data found in " + ", ".join(d for d in DATA_DIRS if d))
    sys.exit(77)


def run(args, expect=0, timeout=300):
    print("$ " + " ".join(args), flush=True)
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    sys.stdout.write(p.stdout[-3000:])
    sys.stdout.write(p.stderr[-3000:])
    if expect is not None and p.returncode != expect:
        fail("exit code %d, expected %d" % (p.returncode, expect))
    return p


def fresh(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def check_png(path):
    """Signature, chunk CRCs, IHDR size, and the IDAT stream inflates to exactly the rows IHDR promises."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(path + ": not a PNG signature")
    pos, chunks = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            fail(path + ": bad CRC in chunk " + kind.decode("latin-1"))
        chunks.append((kind, body))
        pos += 12 + length
    if chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        fail(path + ": IHDR must come first and IEND last")
    width, height, depth, color = struct.unpack(">IIBB", chunks[0][1][:10])
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if depth != 8 or channels is None:
        fail(path + ": unexpected bit depth %d / colour type %d" % (depth, color))
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    if len(raw) != height * (1 + width * channels):
        fail(path + ": pixel data does not match %dx%d" % (width, height))
    if width < 300 or height < 200 or len(data) < 5000:
        fail(path + ": %dx%d, %d bytes: too small to be a real figure" % (width, height, len(data)))
    print("ok  %s: %dx%d, %d bytes" % (os.path.basename(path), width, height, len(data)))


def histories(report):
    keys = ["loss", "accuracy", "val_loss", "val_accuracy"]
    return [(it["iteration"], it["status"], {k: it["history"][k] for k in keys}) for it in report["iterations"]]


def same_results(a, b, what):
    ra, rb = json.load(open(os.path.join(a, "report.json"))), json.load(open(os.path.join(b, "report.json")))
    if histories(ra) != histories(rb):
        fail(what + ": per-epoch metrics differ:\n%s\n%s" % (histories(ra), histories(rb)))
    for k in ["best_iteration", "test_loss", "test_accuracy", "confusion_matrix"]:
        if ra[k] != rb[k]:
            fail(what + ": %s differs: %r vs %r" % (k, ra[k], rb[k]))
    print("ok  %s: identical per-epoch metrics and test results" % what)


def end_to_end(app, scratch, data):
    out = fresh(os.path.join(scratch, "e2e"))
    common = ["--data", data, "--out", out, "--iterations", "2", "--epochs", "1", "--train-limit", "3000", "--threads", "1"]
    p = run([app] + common)
    for text in ["Iteration 1/2 \u2014 split seed", "Iteration 2/2", "Study: 2/2 epochs done", "Total params: 225,034",
                "Test accuracy"]:
        if text not in p.stdout:
            fail("output lacks %r" % text)
    for name in ["best_model.h5", "history_iter1.csv", "history_iter2.csv", "report.json", "report.md",
                 "training_history.png", "confusion_matrix.png", "test_predictions.png", "model.png"]:
        if not os.path.isfile(os.path.join(out, name)) or os.path.getsize(os.path.join(out, name)) == 0:
            fail("missing or empty output " + name)
    leftovers = [f for _, _, files in os.walk(out) for f in files if ".tmp." in f]
    if leftovers:
        fail("temporary files left behind: %s" % leftovers)

    r = json.load(open(os.path.join(out, "report.json")))
    for k in ["config", "iterations", "best_iteration", "test_loss", "test_accuracy", "per_class", "confusion_matrix",
              "total_seconds"]:
        if k not in r:
            fail("report.json lacks " + k)
    if r["config"]["epochs"] != 1 or r["config"]["iterations"] != 2 or r["config"]["model"] != "improved":
        fail("report.json config is wrong: %r" % r["config"])
    if len(r["iterations"]) != 2:
        fail("report.json should list 2 iterations")
    for it in r["iterations"]:
        for k in ["val_loss", "val_accuracy", "best_val_loss", "best_epoch"]:
            if k not in it:
                fail("iteration lacks " + k)
        for k in ["loss", "accuracy", "val_loss", "val_accuracy", "seconds"]:
            if len(it["history"][k]) != 1:
                fail("iteration history %s should hold 1 epoch" % k)
        if it["train_samples"] != 2400 or it["val_samples"] != 600:
            fail("the 80/20 split of 3000 should be 2400/600")
    if r["iterations"][0]["split_seed"] == r["iterations"][1]["split_seed"]:
        fail("both iterations used the same split seed")
    best = min((it for it in r["iterations"]), key=lambda it: it["val_loss"])
    if r["best_iteration"] != best["iteration"]:
        fail("best_iteration is not the lowest final val_loss")
    matrix = r["confusion_matrix"]
    if len(matrix) != 10 or sum(map(sum, matrix)) != 10000:
        fail("confusion matrix should be 10x10 over 10000 test images")
    if abs(sum(matrix[i][i] for i in range(10)) / 10000 - r["test_accuracy"]) > 1e-12:
        fail("confusion matrix diagonal does not match test_accuracy")
    if [c["name"] for c in r["per_class"]][:2] != ["T-shirt/top", "Trouser"]:
        fail("per_class lacks class names")
    if not 0.3 < r["test_accuracy"] <= 1:
        fail("test accuracy %.4f is implausible" % r["test_accuracy"])
    with open(os.path.join(out, "history_iter1.csv")) as f:
        header = f.readline().strip()
    if header != "epoch,accuracy,loss,val_accuracy,val_loss,seconds":
        fail("unexpected CSV header " + header)
    md = open(os.path.join(out, "report.md")).read()
    for text in ["training_history.png", "confusion_matrix.png", "test_predictions.png", "model.png", "Trouser"]:
        if text not in md:
            fail("report.md lacks " + text)
    for name in ["training_history.png", "confusion_matrix.png", "test_predictions.png", "model.png"]:
        check_png(os.path.join(out, name))

    e = run([app, "evaluate", os.path.join(out, "best_model.h5"), "--data", data, "--json", "--threads", "1"])
    ev = json.loads(e.stdout)
    if ev["test_accuracy"] != r["test_accuracy"] or ev["test_samples"] != 10000:
        fail("evaluate says accuracy %r, report.json %r" % (ev["test_accuracy"], r["test_accuracy"]))
    if abs(ev["test_loss"] - r["test_loss"]) > 1e-9:
        fail("evaluate says loss %r, report.json %r" % (ev["test_loss"], r["test_loss"]))
    print("ok  evaluate best_model.h5 --json matches report.json (accuracy %.4f)" % ev["test_accuracy"])
    if ev["preprocessing"] != "pixels / 255":
        fail("evaluate reports preprocessing %r" % ev["preprocessing"])
    # --scale/--offset: pixel * (2/255) - 1 shifts every input, so the model (trained on [0, 1]) must score lower
    e2 = run([app, "evaluate", os.path.join(out, "best_model.h5"), "--data", data, "--json", "--threads", "1",
              "--scale", str(2 / 255), "--offset", "-1"])
    ev2 = json.loads(e2.stdout)
    if not ev2["preprocessing"].startswith("pixels * ") or ev2["offset"] != -1 or ev2["test_loss"] <= ev["test_loss"]:
        fail("evaluate --scale/--offset: %r" % ev2)
    print("ok  evaluate --scale/--offset applies and reports its preprocessing")

    # A second run in the same directory trains nothing and reports the same.
    p = run([app] + common)
    if p.stdout.count("finished in an earlier run") != 2:
        fail("a rerun should skip both finished iterations")
    r2 = json.load(open(os.path.join(out, "report.json")))
    if r2["test_accuracy"] != r["test_accuracy"]:
        fail("a rerun changed the test accuracy")
    # select alone reproduces the report.
    run([app, "select", "--out", out, "--data", data, "--threads", "1", "--quiet"])
    if json.load(open(os.path.join(out, "report.json")))["test_loss"] != r["test_loss"]:
        fail("select changed the test loss")
    print("ok  rerun and select reuse the finished iterations")
    # --format keras: the same selected model as Keras 3's .keras file, which evaluate reads back to the same figures.
    run([app, "select", "--out", out, "--data", data, "--threads", "1", "--quiet", "--format", "keras"])
    rk = json.load(open(os.path.join(out, "report.json")))
    if rk["model"]["file"] != "best_model.keras" or not os.path.exists(os.path.join(out, "best_model.keras")):
        fail("select --format keras should write best_model.keras and name it in report.json: %r" % rk["model"])
    with open(os.path.join(out, "best_model.keras"), "rb") as f:
        if f.read(4) != b"PK\x03\x04":
            fail("best_model.keras is not a zip archive")
    ek = json.loads(run([app, "evaluate", os.path.join(out, "best_model.keras"), "--data", data, "--json",
                         "--threads", "1"]).stdout)
    if ek["test_accuracy"] != r["test_accuracy"] or abs(ek["test_loss"] - r["test_loss"]) > 1e-9:
        fail("evaluate best_model.keras: %r, report.json accuracy %r loss %r" % (ek, r["test_accuracy"], r["test_loss"]))
    print("ok  select --format keras writes best_model.keras; evaluate reads it to the report's figures")


def resume(app, scratch, data):
    """Simulated kill (--stop-after-epochs) in the middle of iteration 2, then a rerun: same numbers as one run."""
    common = ["--data", data, "--iterations", "2", "--epochs", "2", "--train-limit", "2000", "--threads", "1", "--seed", "7"]
    ref = fresh(os.path.join(scratch, "resume_ref"))
    run([app, "--out", ref, "--quiet"] + common)
    out = fresh(os.path.join(scratch, "resume"))
    p = run([app, "--out", out, "--stop-after-epochs", "3"] + common, expect=75)
    if os.path.exists(os.path.join(out, "report.json")):
        fail("the stopped run should not have reached the report")
    p = run([app, "--out", out] + common)
    if "Iteration 1/2 finished in an earlier run" not in p.stdout or "resuming after epoch 1/2" not in p.stdout:
        fail("the rerun should skip iteration 1 and resume iteration 2 after epoch 1")
    if p.stdout.count("Epoch ") != 1:
        fail("the rerun should train exactly one epoch")
    same_results(ref, out, "stopped after 3 epochs and resumed")

    # Separate jobs: one iteration each, then select.
    jobs = fresh(os.path.join(scratch, "jobs"))
    run([app, "--out", jobs, "--only-iteration", "2", "--quiet"] + common)
    p = run([app, "select", "--out", jobs, "--data", data, "--threads", "1"])
    if "left out: 1 (not started)" not in p.stderr:
        fail("select should warn that iteration 1 has not started")
    run([app, "train", "--out", jobs, "--only-iteration", "1", "--quiet"] + common)
    run([app, "select", "--out", jobs, "--data", data, "--threads", "1", "--quiet"])
    same_results(ref, jobs, "--only-iteration jobs + select")

    # Other settings in the same directory are refused, and nothing is changed.
    before = open(os.path.join(out, "report.json")).read()
    p = run([app, "--out", out] + common[:-2] + ["--seed", "8"], expect=1)
    if "other settings" not in p.stderr or "seed: 7 in the checkpoints, 8 now" not in p.stderr:
        fail("a resume with another seed should be refused, naming the difference")
    if open(os.path.join(out, "report.json")).read() != before:
        fail("the refused run changed report.json")
    print("ok  a different config is refused")


def interrupted(app, scratch, data, sig):
    """A real signal right after the first epoch's checkpoint (so in the middle of epoch 2), then a rerun: same
    numbers as an uninterrupted run. SIGKILL cannot be caught; SIGTERM (Slurm's scancel, preemption, requeue) and
    SIGINT (Ctrl-C) stop the app at once with exit code 75 and a message, leaving no temporary file."""
    name = signal.Signals(sig).name
    common = ["--data", data, "--iterations", "1", "--epochs", "3", "--train-limit", "2000", "--threads", "1", "--seed", "11"]
    ref = fresh(os.path.join(scratch, "kill_ref"))
    run([app, "--out", ref, "--quiet"] + common)
    out = fresh(os.path.join(scratch, "kill"))
    ckpt = os.path.join(out, "checkpoints", "iteration_1.ckpt")
    print("$ " + " ".join([app, "--out", out] + common) + " &", flush=True)
    proc = subprocess.Popen([app, "--out", out] + common, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not os.path.exists(ckpt):
        if proc.poll() is not None or time.time() > deadline:
            fail("the run ended or stalled before its first checkpoint")
        time.sleep(0.01)
    if proc.poll() is not None:
        fail("the run finished before it could be stopped")
    os.kill(proc.pid, sig)
    stderr = proc.communicate(timeout=60)[1]
    print("sent %s after the first checkpoint appeared: exit code %d" % (name, proc.returncode))
    if sig == signal.SIGKILL:
        if proc.returncode != -signal.SIGKILL:
            fail("the run should have died of SIGKILL")
    else:
        if proc.returncode != 75 or "stopped by %s" % name not in stderr or "resumes" not in stderr:
            fail("%s should stop the run with exit code 75 and a message, got %d and %r" % (name, proc.returncode, stderr))
        leftovers = [f for _, _, files in os.walk(out) for f in files if ".tmp." in f]
        if leftovers:
            fail("temporary files left behind: %s" % leftovers)
    if os.path.exists(os.path.join(out, "report.json")):
        fail("the stopped run should not have reached the report")
    p = run([app, "--out", out] + common)
    if "resuming after epoch" not in p.stdout:
        fail("the rerun should resume from the checkpoint")
    same_results(ref, out, "stopped by %s and resumed" % name)
    if sig != signal.SIGTERM:
        return

    # SIGTERM while the first epoch's files are written (between its checkpoint and its CSV): both are finished
    # before the app stops, so the rerun resumes after epoch 1 and the CSV holds it.
    out = fresh(os.path.join(scratch, "term_while_writing"))
    p = run([app, "--out", out, "--term-while-writing"] + common, expect=75)
    if "stopped by SIGTERM" not in p.stderr:
        fail("the stop should be reported")
    with open(os.path.join(out, "history_iter1.csv")) as f:
        rows = f.read().strip().split("\n")[1:]
    if [r.split(",")[0] for r in rows] != ["0"]:
        fail("the CSV being written when SIGTERM came should hold epoch 0, it holds %r" % rows)
    p = run([app, "--out", out] + common)
    if "resuming after epoch 1/3" not in p.stdout:
        fail("the rerun should resume after the epoch whose files were being written")
    same_results(ref, out, "SIGTERM while writing, then resumed")


def lock(app, scratch, data):
    """An iteration locked by another process: refused at once, naming the holder the lock file records; with
    --lock-wait, trained as soon as the holder lets go."""
    out = fresh(os.path.join(scratch, "lock"))
    os.makedirs(os.path.join(out, "checkpoints"))
    common = [app, "--out", out, "--data", data, "--iterations", "1", "--only-iteration", "1", "--epochs", "1",
              "--train-limit", "500", "--threads", "1"]
    holder = open(os.path.join(out, "checkpoints", "iteration_1.ckpt.lock"), "w")
    holder.write("pid 1 on elsewhere, Slurm job 9_1\n")
    holder.flush()
    fcntl.flock(holder, fcntl.LOCK_EX)
    p = run(common, expect=1)
    if "is being trained by another process (pid 1 on elsewhere, Slurm job 9_1, it holds" not in p.stderr:
        fail("the refusal should name the lock's holder")
    print("$ " + " ".join(common + ["--lock-wait", "60"]) + " &", flush=True)
    proc = subprocess.Popen(common + ["--lock-wait", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    if proc.poll() is not None:
        fail("--lock-wait 60 should wait while the lock is held, it exited with %d" % proc.returncode)
    fcntl.flock(holder, fcntl.LOCK_UN)
    holder.close()
    stdout, stderr = proc.communicate(timeout=120)
    if proc.returncode != 0 or "is locked (pid 1 on elsewhere" not in stderr or "Iteration 1 is done" not in stdout:
        fail("after the lock was released the run should train the iteration: %d, %r" % (proc.returncode, stderr))
    with open(os.path.join(out, "checkpoints", "iteration_1.ckpt.lock")) as f:
        if not f.read().startswith("pid %d on " % proc.pid):
            fail("the lock file should name its new holder")
    print("ok  a held lock is refused naming its holder; --lock-wait trains once it is released")


def nan_guard(app, scratch, data):
    """A learning rate of 1e38 makes the loss NaN at once: each iteration is reported as diverged, never retrained,
    never selected, and a best_model.h5 already in --out stays as it was."""
    out = fresh(os.path.join(scratch, "nan"))
    sentinel = b"an earlier best model"
    with open(os.path.join(out, "best_model.h5"), "wb") as f:
        f.write(sentinel)
    common = [app, "--out", out, "--data", data, "--iterations", "2", "--epochs", "1", "--train-limit", "500",
              "--threads", "1", "--learning-rate", "1e38"]
    p = run(common, expect=1)
    if p.stderr.count("diverged: model 'improved': loss is") != 2 or "nothing to select" not in p.stderr:
        fail("both iterations should be reported as diverged, and nothing selected")
    for i in (1, 2):
        if not os.path.exists(os.path.join(out, "checkpoints", "iteration_%d.diverged.json" % i)):
            fail("no divergence note for iteration %d" % i)
    if open(os.path.join(out, "best_model.h5"), "rb").read() != sentinel or os.path.exists(os.path.join(out, "report.json")):
        fail("a diverged study must not write best_model.h5 or a report")
    p = run(common, expect=1)
    if p.stdout.count("diverged in an earlier run") != 2 or "Epoch 1/1" in p.stdout:
        fail("a rerun should skip the diverged iterations")
    print("ok  NaN guard: diverged iterations reported, skipped on rerun, best_model.h5 untouched")


def bad_flags(app, scratch, data):
    out = os.path.join(scratch, "bad")
    cases = [
        (["--no-such-flag"], "--no-such-flag"),
        (["--epochs", "0"], "--epochs"),
        (["--epochs", "three"], "--epochs"),
        (["--model", "foo"], "--model"),
        (["--batch-size", "-1"], "--batch-size"),
        (["--learning-rate", "0"], "--learning-rate"),
        (["--optimizer", "lion"], "unknown optimizer 'lion' (supported: Adagrad, Adam, AdamW, Adamax, Nadam, RMSprop, SGD)"),
        (["--early-stopping", "-1"], "--early-stopping"),
        (["--early-stopping", "soon"], "--early-stopping"),
        (["--lr-schedule", "cosine"], "--lr-schedule 'cosine': wrong number of ':'-separated fields for cosine"),
        (["--lr-schedule", "linear:100"], "--lr-schedule 'linear:100': unknown schedule 'linear'"),
        (["--lr-schedule", "exponential:100:x"], "--lr-schedule 'exponential:100:x': 'x' is not a number"),
        (["--lr-schedule", "cosine:0"], "--lr-schedule 'cosine:0': CosineDecay"),
        (["--lr-schedule", "piecewise:10,20:0.1,0.01"], "The length of boundaries should be 1 less"),
        (["--reduce-lr-on-plateau", "-1"], "--reduce-lr-on-plateau"),
        (["--reduce-lr-on-plateau", "2", "--lr-schedule", "cosine:100"],
         "--reduce-lr-on-plateau cannot be used with --lr-schedule 'cosine:100'"),
        (["--iterations", "2", "--only-iteration", "3"], "--only-iteration 3"),
        (["--train-limit", "5"], "--train-limit"),
        (["--data", os.path.join(scratch, "nowhere")], "nowhere"),
        (["evaluate"], "MODEL"),
        (["evaluate", os.path.join(scratch, "missing.h5")], "missing.h5"),
        (["evaluate", os.path.join(scratch, "garbage.h5")], "not a readable HDF5 file"),
        (["evaluate", "--no-isolate", os.path.join(scratch, "garbage.h5")], "not a readable HDF5 file"),
        (["select", "--out", os.path.join(scratch, "empty")], "no checkpoints"),
        (["frobnicate"], "frobnicate"),
    ]
    os.makedirs(os.path.join(scratch, "empty"), exist_ok=True)
    with open(os.path.join(scratch, "garbage.h5"), "wb") as f:
        f.write(b"\x89HDF\r\n\x1a\n but not really")
    for args, needle in cases:
        p = run([app, "--out", out] + args if args[0].startswith("--") else [app] + args, expect=None, timeout=60)
        if p.returncode == 0:
            fail("%s should fail" % args)
        if needle not in p.stderr:
            fail("%s: stderr should mention %r" % (args, needle))
        if p.stdout.strip() and "Usage" not in p.stdout and "Run with --help" not in p.stderr + p.stdout:
            fail("%s: unexpected output on stdout" % args)
    p = run([app, "--help"])
    if "--stop-after-epochs" in p.stdout or "--term-while-writing" in p.stdout or "--train-limit" not in p.stdout:
        fail("--help should list the options but not the hidden testing flag")
    for option in ["--optimizer", "--early-stopping PATIENCE", "--learning-rate", "--lr-schedule SPEC",
                   "--reduce-lr-on-plateau PATIENCE", "--checkpoint-best"]:
        if option not in p.stdout:
            fail("--help should list " + option)
    print("ok  %d bad command lines rejected with a message" % len(cases))

def keras_early_stopping(val_losses, patience, epochs):
    """Keras 3's EarlyStopping(monitor='val_loss', patience, restore_best_weights=True), worked out from the
    history: (epochs it trains, 0-based epoch whose weights it restores)."""
    best, best_epoch, wait = float("inf"), 0, 0
    for e, v in enumerate(val_losses):
        wait += 1
        if v < best:
            best, best_epoch, wait = v, e, 0
            continue
        if wait >= patience and e > 0:
            return e + 1, best_epoch
    return min(len(val_losses), epochs), best_epoch


def train_options(app, scratch, data):
    """--optimizer NAME and --early-stopping PATIENCE: recorded, applied, resumable, and consistent with selection."""
    # --optimizer sgd at --learning-rate 0.01: the checkpoints record SGD, best_model.h5 is compiled with it.
    out = fresh(os.path.join(scratch, "sgd"))
    common = ["--data", data, "--iterations", "1", "--epochs", "2", "--train-limit", "1000", "--threads", "1",
              "--learning-rate", "0.01"]
    p = run([app, "--out", out, "--optimizer", "sgd"] + common)
    if "SGD(learning_rate 0.01)" not in p.stdout:
        fail("the study line should name SGD(learning_rate 0.01)")
    r = json.load(open(os.path.join(out, "report.json")))
    if r["config"]["optimizer"] != "SGD" or r["config"]["learning_rate"] != 0.01 or r["config"]["early_stopping"] != -1:
        fail("report.json config: %r" % r["config"])
    with open(os.path.join(out, "best_model.h5"), "rb") as f:
        h5 = f.read()  # training_config is a JSON string attribute, stored as it is
    start = h5.find(b'"optimizer_config":{')
    optimizer = json.JSONDecoder().raw_decode(h5[start + len(b'"optimizer_config":'):].decode("latin-1"))[0] \
        if start >= 0 else {}
    oc = optimizer.get("config", {})
    if optimizer.get("class_name") != "SGD" or oc.get("learning_rate") != 0.01 or oc.get("momentum") != 0.0 or \
            oc.get("nesterov") is not False:
        fail("best_model.h5's training_config should hold SGD(learning_rate=0.01) with Keras' other defaults")
    # The same study under the other spelling resumes (finished: nothing to train); another optimizer is refused.
    p = run([app, "--out", out, "--optimizer", "SGD"] + common)
    if "finished in an earlier run" not in p.stdout:
        fail("--optimizer SGD should resume the --optimizer sgd study")
    p = run([app, "--out", out, "--optimizer", "adamw"] + common, expect=1)
    if 'optimizer: "SGD" in the checkpoints, "AdamW" now' not in p.stderr:
        fail("another --optimizer should be refused, naming the difference")
    ref_adam = fresh(os.path.join(scratch, "adam"))
    run([app, "--out", ref_adam, "--quiet"] + common)
    if histories(json.load(open(os.path.join(ref_adam, "report.json")))) == histories(r):
        fail("SGD and Adam trained the same numbers")
    print("ok  --optimizer sgd is recorded, trains differently from Adam, and is in best_model.h5")

    # --early-stopping 2: Keras' rule on each iteration's history, the best epoch's weights kept and selected.
    common = ["--data", data, "--iterations", "2", "--epochs", "8", "--train-limit", "1000", "--threads", "1",
              "--learning-rate", "0.01", "--early-stopping", "2"]
    ref = fresh(os.path.join(scratch, "early_ref"))
    p = run([app, "--out", ref] + common)
    r = json.load(open(os.path.join(ref, "report.json")))
    if r["config"]["early_stopping"] != 2:
        fail("report.json config should record early_stopping 2: %r" % r["config"])
    stopped = 0
    for it in r["iterations"]:
        h = it["history"]["val_loss"]
        trained, best = keras_early_stopping(h, 2, 8)
        if it["epochs_done"] != trained or it["restored_epoch"] != best + 1:
            fail("iteration %d: %d epochs, restored %r; Keras' EarlyStopping on %r: %d epochs, best epoch %d" %
                 (it["iteration"], it["epochs_done"], it.get("restored_epoch"), h, trained, best + 1))
        if it["val_loss"] != h[best]:
            fail("iteration %d: its val_loss should be the restored epoch's" % it["iteration"])
        stopped += trained < 8
    if "Early stopping after epoch" not in p.stdout and stopped:
        fail("an early stop should be announced")
    if r["best_iteration"] != min(r["iterations"], key=lambda it: it["val_loss"])["iteration"]:
        fail("best_iteration should have the lowest val_loss of the restored models")
    ev = json.loads(run([app, "evaluate", os.path.join(ref, "best_model.h5"), "--data", data, "--json",
                         "--threads", "1"]).stdout)
    if ev["test_accuracy"] != r["test_accuracy"] or abs(ev["test_loss"] - r["test_loss"]) > 1e-9:
        fail("best_model.h5 should be the restored model the report tested")
    if [f for f in os.listdir(os.path.join(ref, "checkpoints")) if ".best." in f]:
        fail("finished iterations should leave no best-weights file")
    print("ok  --early-stopping 2 follows Keras' rule (%d of 2 iterations stopped early), restores and selects the "
          "best epochs" % stopped)

    # Stopped after 3 epochs and resumed: the same numbers as one run (EarlyStopping's state comes back).
    out = fresh(os.path.join(scratch, "early_resume"))
    run([app, "--out", out, "--stop-after-epochs", "3", "--quiet"] + common, expect=75)
    if not os.path.exists(os.path.join(out, "checkpoints", "iteration_1.best.ckpt")):
        print("note: iteration 1 improved at its 3rd epoch, so the best-weights file is not exercised")
    run([app, "--out", out, "--quiet"] + common)
    same_results(ref, out, "--early-stopping stopped after 3 epochs and resumed")


def evaluate_losses(app, scratch, data):
    """evaluate reads a model whatever loss it was compiled with: the loss it has (labels as that loss takes them),
    from_logits on a logits output, and accuracy alone (with the reason) for a loss nnlite lacks."""
    fixtures = os.environ.get("KERAS_FIXTURES_DIR", "")
    if not fixtures or not os.path.isdir(fixtures):
        print("SKIP: no Keras fixtures (KERAS_FIXTURES_DIR=%r)" % fixtures)
        sys.exit(77)
    try:
        import h5py
    except ImportError:
        if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != "/usr/bin/python3":
            os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)  # Debian's python3 has python3-h5py
        print("SKIP: no h5py")
        sys.exit(77)

    def evaluate(path, expect=0):
        p = run([app, "evaluate", path, "--data", data, "--json", "--threads", "1"], expect=expect)
        return json.loads(p.stdout), p.stderr

    # The fixtures' published figures (README of the fixtures): sparse and categorical cross-entropy, both reported.
    cases = [("hgmldl_keras3.4.1_best-cnn-model.keras", "sparse_categorical_crossentropy", 0.9125, 0.2517),
             ("EXTRA_evanchien_keras2.1.6_fashion_mnist.h5", "categorical_crossentropy", 0.9108, 0.2502),
             ("hgmldl_tf2.11.0_best-cnn-model.h5", "sparse_categorical_crossentropy", 0.9168, None)]
    base = None
    for name, loss, accuracy, published_loss in cases:
        path = os.path.join(fixtures, name)
        if not os.path.exists(path):
            print("SKIP: %s is missing" % path)
            sys.exit(77)
        ev, _ = evaluate(path)
        if ev["loss"] != loss or round(ev["test_accuracy"] * 10000) != round(accuracy * 10000):
            fail("%s: loss %r, accuracy %r; expected %s and %s" % (name, ev["loss"], ev["test_accuracy"], loss, accuracy))
        if published_loss is not None and abs(ev["test_loss"] - published_loss) > 5e-5:
            fail("%s: test loss %r, published %s" % (name, ev["test_loss"], published_loss))
        if not 0 < ev["test_loss"] < 1:
            fail("%s: implausible test loss %r" % (name, ev["test_loss"]))
        print("ok  %s: %s %.4f, accuracy %.4f" % (name, loss, ev["test_loss"], ev["test_accuracy"]))
        base = (path, ev)
    source, reference = base

    def variant(name, edit_model_config=None, edit_training_config=None):
        path = os.path.join(scratch, name)
        shutil.copyfile(source, path)
        os.chmod(path, 0o644)
        with h5py.File(path, "r+") as f:
            for key, edit in (("model_config", edit_model_config), ("training_config", edit_training_config)):
                if edit:
                    value = f.attrs[key]
                    config = json.loads(value.decode() if isinstance(value, bytes) else value)
                    edit(config)
                    f.attrs[key] = json.dumps(config)
        return path

    # sparse_categorical_crossentropy(from_logits=True) on the same model with a linear last layer: the logits'
    # argmax is the softmax's, and the loss -log softmax(z)[y] is the same number.
    def linear_output(mc):
        last = mc["config"]["layers"][-1]
        if last["class_name"] != "Dense" or last["config"]["activation"] != "softmax":
            fail("the fixture's last layer should be a softmax Dense: %r" % last)
        last["config"]["activation"] = "linear"

    def from_logits(tc):
        tc["loss"] = {"class_name": "SparseCategoricalCrossentropy",
                      "config": {"reduction": "auto", "name": "sparse_categorical_crossentropy", "from_logits": True,
                                 "ignore_class": None}}
    ev, _ = evaluate(variant("logits.h5", linear_output, from_logits))
    if ev["loss"] != "sparse_categorical_crossentropy (from_logits=true)":
        fail("the logits model should report its from_logits loss: %r" % ev["loss"])
    if ev["test_accuracy"] != reference["test_accuracy"] or abs(ev["test_loss"] - reference["test_loss"]) > 1e-4:
        fail("logits model: loss %r accuracy %r; the softmax model's: %r %r" %
             (ev["test_loss"], ev["test_accuracy"], reference["test_loss"], reference["test_accuracy"]))
    print("ok  from_logits=true on a logits output: the softmax model's loss and accuracy")

    # A loss nnlite lacks: accuracy all the same, no loss, and why.
    def unknown_loss(tc):
        tc["loss"] = "my_focal_loss"
    ev, err = evaluate(variant("unknown_loss.h5", None, unknown_loss))
    if ev["test_loss"] is not None or ev["loss"] is not None or ev["test_accuracy"] != reference["test_accuracy"]:
        fail("unknown loss: %r" % ev)
    if "my_focal_loss" not in ev["no_loss_reason"] or "my_focal_loss" not in err or "warning" not in err:
        fail("unknown loss: the reason should name it, on stderr too: %r / %r" % (ev["no_loss_reason"], err))
    p = run([app, "evaluate", os.path.join(scratch, "unknown_loss.h5"), "--data", data, "--threads", "1"])
    if "Test loss: not available (" not in p.stdout or "Test accuracy: %.4f" % reference["test_accuracy"] not in p.stdout:
        fail("unknown loss: the text output should say the loss is not available and give the accuracy")
    print("ok  an unknown loss: accuracy %.4f, the loss missing and why" % ev["test_accuracy"])

    # An optimizer and a metric nnlite lacks: the loss is still reported; both are named in the warnings.
    def unknown_optimizer_metric(tc):
        tc["optimizer_config"] = {"class_name": "Lion", "config": {"learning_rate": 1e-4}}
        tc["metrics"] = ["accuracy", "f1_of_mine"]
    ev, err = evaluate(variant("unknown_optimizer.h5", None, unknown_optimizer_metric))
    if ev["test_loss"] != reference["test_loss"] or ev["test_accuracy"] != reference["test_accuracy"]:
        fail("unknown optimizer and metric: %r, expected the fixture's figures" % ev)
    if sorted(w["name"] for w in ev["warnings"]) != ["Lion", "f1_of_mine"]:
        fail("the warnings should name Lion and f1_of_mine: %r" % ev["warnings"])
    print("ok  an unknown optimizer and metric are warnings; loss and accuracy as before")


def keras_reduce_lr(val_losses, lr, patience, factor=0.1, min_delta=1e-4):
    """Keras 3's ReduceLROnPlateau(monitor='val_loss', patience) with its other defaults (cooldown 0, min_lr 0),
    worked out from the history: the learning_rate it logs at each epoch's end (the rate before that epoch's
    reduction, as Keras logs it) and the rate after the last epoch."""
    best, wait, logged = float("inf"), 0, []
    for v in val_losses:
        logged.append(lr)
        if v < best - min_delta:
            best, wait = v, 0
        else:
            wait += 1
            if wait >= patience:
                lr, wait = max(lr * factor, 0.0), 0
    return logged, lr


def training_optimizer(path):
    with open(path, "rb") as f:
        h5 = f.read()  # training_config is a JSON string attribute, stored as it is
    start = h5.find(b'"optimizer_config":{')
    return json.JSONDecoder().raw_decode(h5[start + len(b'"optimizer_config":'):].decode("latin-1"))[0] \
        if start >= 0 else {}


def lr_options(app, scratch, data):
    """--lr-schedule SPEC, --reduce-lr-on-plateau PATIENCE, --checkpoint-best: recorded, applied, resumable."""
    # 800 training images, batch 32: 25 steps an epoch, 50 in the run.
    common = ["--data", data, "--iterations", "1", "--epochs", "2", "--train-limit", "1000", "--threads", "1",
              "--learning-rate", "0.01", "--quiet"]
    fixed = fresh(os.path.join(scratch, "fixed"))
    run([app, "--out", fixed] + common)
    # Schedules that equal the fixed rate for all 50 steps train the same numbers; one that decays does not.
    for spec in ["exponential:10:1", "piecewise:1000:0.01,0.5", "inverse_time:10:0"]:
        out = fresh(os.path.join(scratch, spec.split(":")[0]))
        run([app, "--out", out, "--lr-schedule", spec] + common)
        same_results(fixed, out, "--lr-schedule " + spec + " (constant over the run)")
    out = fresh(os.path.join(scratch, "cosine"))
    run([app, "--out", out, "--lr-schedule", "cosine:50:0.1"] + common)
    r = json.load(open(os.path.join(out, "report.json")))
    if r["config"]["lr_schedule"] != "cosine:50:0.1":
        fail("report.json config should record the schedule: %r" % r["config"])
    if histories(r) == histories(json.load(open(os.path.join(fixed, "report.json")))):
        fail("a decaying cosine schedule trained the same numbers as the fixed rate")
    lr = training_optimizer(os.path.join(out, "best_model.h5")).get("config", {}).get("learning_rate", {})
    if not isinstance(lr, dict) or lr.get("class_name") != "CosineDecay" or \
            lr["config"].get("initial_learning_rate") != 0.01 or lr["config"].get("decay_steps") != 50 or \
            lr["config"].get("alpha") != 0.1:
        fail("best_model.h5's optimizer should hold CosineDecay(0.01, 50, alpha=0.1): %r" % lr)
    p = run([app, "--out", out, "--lr-schedule", "cosine:60:0.1"] + common, expect=1)
    if 'lr_schedule: "cosine:50:0.1" in the checkpoints, "cosine:60:0.1" now' not in p.stderr:
        fail("a resume with another --lr-schedule should be refused, naming the difference")
    print("ok  --lr-schedule: constant schedules equal the fixed rate, cosine decays and is in best_model.h5")

    # --reduce-lr-on-plateau 1 --checkpoint-best: Keras' rules worked out from the history, and a resume after a
    # stop gives the same numbers, rates and files.
    common = ["--data", data, "--iterations", "1", "--epochs", "8", "--train-limit", "1000", "--threads", "1",
              "--learning-rate", "0.01", "--reduce-lr-on-plateau", "1", "--checkpoint-best"]
    ref = fresh(os.path.join(scratch, "plateau_ref"))
    p = run([app, "--out", ref] + common)
    r = json.load(open(os.path.join(ref, "report.json")))
    if r["config"]["reduce_lr_on_plateau"] != 1 or r["config"]["checkpoint_best"] is not True:
        fail("report.json config should record reduce_lr_on_plateau 1 and checkpoint_best: %r" % r["config"])
    h = r["iterations"][0]["history"]
    want, final_lr = keras_reduce_lr(h["val_loss"], 0.01, 1)
    if len(h.get("learning_rate", [])) != 8 or any(abs(a - b) > 1e-7 * b for a, b in zip(h["learning_rate"], want)):
        fail("learning_rate per epoch %r; Keras' ReduceLROnPlateau on val_loss %r: %r" %
             (h.get("learning_rate"), h["val_loss"], want))
    if final_lr == 0.01:
        print("note: val_loss improved at every epoch, so no reduction was exercised")
    elif "ReduceLROnPlateau reducing learning rate" not in p.stdout:
        fail("a reduction should be announced")
    best, expected = float("inf"), []
    for e, v in enumerate(h["val_loss"]):
        if v < best:  # ModelCheckpoint: np.less, no min_delta
            best = v
            expected.append("best-%02d-%.4f.keras" % (e + 1, v))
    files = sorted(os.listdir(os.path.join(ref, "iteration_1")))
    if files != expected:
        fail("--checkpoint-best wrote %r; the improving epochs of %r give %r" % (files, h["val_loss"], expected))
    with open(os.path.join(ref, "iteration_1", expected[-1]), "rb") as f:
        if f.read(2) != b"PK":
            fail(expected[-1] + " should be a .keras zip")
    saved_lr = training_optimizer(os.path.join(ref, "best_model.h5")).get("config", {}).get("learning_rate")
    if not isinstance(saved_lr, float) or abs(saved_lr - final_lr) > 1e-7 * final_lr:
        fail("best_model.h5's optimizer should hold the reduced rate %r, got %r" % (final_lr, saved_lr))
    print("ok  --reduce-lr-on-plateau 1 follows Keras' rule (rates %r), --checkpoint-best wrote %d files" %
          (h["learning_rate"], len(files)))

    out = fresh(os.path.join(scratch, "plateau_resume"))
    run([app, "--out", out, "--stop-after-epochs", "3", "--quiet"] + common, expect=75)
    run([app, "--out", out, "--quiet"] + common)
    same_results(ref, out, "--reduce-lr-on-plateau --checkpoint-best stopped after 3 epochs and resumed")
    h2 = json.load(open(os.path.join(out, "report.json")))["iterations"][0]["history"]
    if h2["learning_rate"] != h["learning_rate"]:
        fail("resumed learning rates %r differ from %r" % (h2["learning_rate"], h["learning_rate"]))
    if training_optimizer(os.path.join(out, "best_model.h5")).get("config", {}).get("learning_rate") != saved_lr:
        fail("the resumed run's best_model.h5 should hold the same reduced rate")
    if sorted(os.listdir(os.path.join(out, "iteration_1"))) != files:
        fail("the resumed run's best-model files differ: %r" % sorted(os.listdir(os.path.join(out, "iteration_1"))))
    p = run([app, "--out", out, "--quiet"] + common[:-3] + ["--reduce-lr-on-plateau", "2", "--checkpoint-best"],
            expect=1)
    if "reduce_lr_on_plateau: 1 in the checkpoints, 2 now" not in p.stderr:
        fail("a resume with another --reduce-lr-on-plateau should be refused, naming the difference")
    p = run([app, "--out", out, "--quiet"] + common[:-1], expect=1)
    if "checkpoint_best: true in the checkpoints, false now" not in p.stderr:
        fail("a resume without --checkpoint-best should be refused, naming the difference")
    print("ok  a resume continues ReduceLROnPlateau and ModelCheckpoint, and refuses other settings")


def main():
    if len(sys.argv) != 4:
        print("usage: example_app_check.py end_to_end|resume|lock|kill|sigterm|sigint|nan_guard|bad_flags|train_options|lr_options|"
              "evaluate_losses APP SCRATCH")
        return 2
    mode, app, scratch = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
    os.makedirs(scratch, exist_ok=True)
    data = "" if mode == "bad_flags" else data_dir()  # bad command lines fail before any data is read
    modes = {"end_to_end": end_to_end, "resume": resume, "lock": lock, "nan_guard": nan_guard, "bad_flags": bad_flags,
             "kill": lambda *a: interrupted(*a, signal.SIGKILL), "sigterm": lambda *a: interrupted(*a, signal.SIGTERM),
             "sigint": lambda *a: interrupted(*a, signal.SIGINT), "train_options": train_options, "lr_options": lr_options,
             "evaluate_losses": evaluate_losses}
    modes[mode](app, scratch, data)
    print("PASS " + mode)
    return 0


if __name__ == "__main__":
    sys.exit(main())
