#!/usr/bin/env python3
# The study on a real one-node Slurm cluster started here (stdlib only): munged, slurmctld and slurmd with a
# slurm.conf for this machine in a temporary directory, always stopped at the end. Submits the study with
# examples/fashion_mnist/slurm/submit.sh and checks report.json and best_model.h5 against a run without Slurm; then
# stops one task mid-epoch with `scontrol requeue` (Slurm ends and requeues it, as on preemption) and another with
# `scancel --signal=TERM` (only the app is signalled; the task requeues itself), and checks that both resumed from
# their checkpoints and that the result equals an uninterrupted run, bit for bit (one thread per task); last, a
# plain `scancel` of a task must stay a cancel, and cancel the select job that waited for it.
# Usage: slurm_check.py APP SUBMIT_SH SCRATCH_DIR; exit 77 = skipped (no Slurm or munge binaries, or no data).
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import example_app_check as app_check  # noqa: E402  (data_dir, same_results, fail, fresh)

fail = app_check.fail
DAEMONS = ["munged", "slurmctld", "slurmd"]
CLIENTS = ["sbatch", "srun", "scontrol", "scancel", "sinfo", "squeue"]
SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/local/sbin"])
START = time.time()
TOTAL_SECONDS = 420  # everything, cleanup included, ends well before ctest's TIMEOUT (600)


def which(name):
    return shutil.which(name, path=SBIN)


def left():
    return TOTAL_SECONDS - (time.time() - START)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent():
    """Runs in each daemon before exec: SIGKILL when this script dies, even by SIGKILL (Linux prctl)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Cluster:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="nnlite_slurm_")  # short: the munge socket path must fit sun_path
        os.chmod(self.dir, 0o755)  # munged wants its socket's directory reachable by all
        self.conf = os.path.join(self.dir, "slurm.conf")
        self.procs = {}
        # Our own cluster only: nothing from a Slurm job this test might itself run in.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_", "SQUEUE_"))}
        self.env["SLURM_CONF"] = self.conf
        self.env["PATH"] = SBIN

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def node_line(self):
        """The node as slurmd sees it (`slurmd -C`): name, CPUs, sockets, cores, threads, RealMemory."""
        p = subprocess.run([which("slurmd"), "-C"], capture_output=True, text=True, timeout=30, env=self.env)
        line = p.stdout.splitlines()[0] if p.stdout else ""
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if "NodeName" not in fields or "CPUs" not in fields or "RealMemory" not in fields:
            fail("cannot read this machine's node configuration from `slurmd -C`: %r %r" % (p.stdout, p.stderr))
        self.node = fields["NodeName"]
        keep = ["CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory"]
        return "NodeName=%s NodeAddr=127.0.0.1 %s State=UNKNOWN" % (
            self.node, " ".join("%s=%s" % (k, fields[k]) for k in keep if k in fields))

    def write_conf(self):
        for d in ["state", "spool", "log", "munge"]:
            os.makedirs(self.path(d))
        node = self.node_line()
        with open(self.path("plugstack.conf"), "w"):
            pass  # no SPANK plugins: not the machine's /etc/slurm/plugstack.conf
        conf = """\
# A one-node cluster for tests/slurm_check.py. No cgroups (proctrack/linuxproc, task/none), no slurmdbd.
ClusterName=nnlitetest
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={dir}/munge/munge.socket
CredType=cred/munge
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/log/slurmctld.log
SlurmdLogFile={dir}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig={dir}/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
SwitchType=switch/none
KillWait=5
JobRequeue=1
ReturnToService=2
MinJobAge=600
{node_line}
PartitionName=test Nodes={node} Default=YES MaxTime=INFINITE State=UP
""".format(node=self.node, node_line=node, dir=self.dir, ctld_port=free_port(), slurmd_port=free_port())
        with open(self.conf, "w") as f:
            f.write(conf)
        print("slurm.conf:\n" + conf, flush=True)

    def start(self, name, args):
        out = open(self.path("log", name + ".out"), "w")
        print("$ " + " ".join(args) + " &", flush=True)
        self.procs[name] = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                            preexec_fn=die_with_parent, cwd=self.dir)
        out.close()

    def wait_for(self, what, ok, seconds):
        deadline = time.time() + min(seconds, left())
        while time.time() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    fail("%s exited with %d while waiting for %s" % (name, p.returncode, what))
            if ok():
                return
            time.sleep(0.2)
        fail("timed out waiting for " + what)

    def up(self):
        self.write_conf()
        key = self.path("munge", "munge.key")
        with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400), "wb") as f:
            f.write(os.urandom(128))  # our own key: the machine's /etc/munge/munge.key is never used
        sock = self.path("munge", "munge.socket")
        self.start("munged", [which("munged"), "--foreground", "--force", "--num-threads=4", "--socket=" + sock,
                              "--key-file=" + key, "--pid-file=" + self.path("munge", "munged.pid"),
                              "--seed-file=" + self.path("munge", "munged.seed"),
                              "--log-file=" + self.path("log", "munged.log")])
        self.wait_for("munged's socket", lambda: os.path.exists(sock), 20)
        self.start("slurmctld", [which("slurmctld"), "-D", "-i", "-f", self.conf])
        self.start("slurmd", [which("slurmd"), "-D", "-N", self.node, "-f", self.conf])
        idle = lambda: self.cmd(["sinfo", "-h", "-n", self.node, "-o", "%T"], check=False).stdout.strip() == "idle"
        self.wait_for("node %s to be idle" % self.node, idle, 60)
        print("cluster up after %.1f s" % (time.time() - START), flush=True)

    def cmd(self, args, check=True, timeout=30):
        p = subprocess.run([which(args[0]) or args[0]] + args[1:], capture_output=True, text=True, env=self.env,
                           timeout=timeout)
        if check and p.returncode != 0:
            fail("%s failed with %d: %s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def jobs(self, job_id):
        """Every record of a job (an array's tasks each have one; tasks not started yet may share one)."""
        p = self.cmd(["scontrol", "-o", "show", "job", str(job_id)], check=False)
        return [dict(f.split("=", 1) for f in line.split() if "=" in f) for line in p.stdout.splitlines()]

    def task(self, array_id, task):
        for r in self.jobs(array_id):
            if r.get("ArrayTaskId") == str(task):
                return r
        return {"JobState": "PENDING", "Restarts": "0"}

    def stop(self):
        """Cancels every job, stops the daemons, then kills whatever our cluster started that is still alive."""
        if self.procs.get("slurmctld") and self.procs["slurmctld"].poll() is None:
            try:
                ids = self.cmd(["squeue", "-h", "-o", "%i"], check=False, timeout=10).stdout.split()
                if ids:
                    self.cmd(["scancel"] + ids, check=False, timeout=10)
                deadline = time.time() + 20
                while time.time() < deadline and self.cmd(["squeue", "-h"], check=False, timeout=10).stdout.strip():
                    time.sleep(0.5)
            except subprocess.TimeoutExpired:
                pass
        for name in reversed(DAEMONS):
            p = self.procs.get(name)
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)
        # slurmstepd, job scripts and the app carry SLURM_CONF=<our conf> in their environment: exactly ours.
        mark = ("SLURM_CONF=" + self.conf).encode()
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/environ" % pid, "rb") as f:
                    env = f.read().split(b"\0")
                if mark in env and int(pid) != os.getpid():
                    os.kill(int(pid), signal.SIGKILL)
                    print("killed leftover process %s of the test cluster" % pid)
            except (OSError, ValueError):
                pass

    def dump_logs(self):
        for name in ["slurmctld.log", "slurmd.log", "munged.out", "slurmctld.out", "slurmd.out"]:
            path = self.path("log", name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    print("---- %s (last 40 lines)\n%s" % (name, "".join(f.readlines()[-40:])))


def csv_rows(out, i):
    try:
        with open(os.path.join(out, "history_iter%d.csv" % i)) as f:
            return len(f.read().strip().split("\n")) - 1
    except OSError:
        return 0


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def submit(cluster, submit_sh, app, out, study):
    p = cluster.cmd(["bash", submit_sh, "--app", app, "--cpus", "1", "--out", out] + study)
    print(p.stdout, end="", flush=True)
    m = re.search(r"array job (\d+).*\nSelect: +job (\d+)", p.stdout)
    if not m:
        fail("submit.sh did not print the two job ids")
    return m.group(1), m.group(2)


def wait_done(cluster, array_id, select_id, iterations, seconds, on_poll=None):
    deadline = time.time() + min(seconds, left() - 40)
    final = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL",
             "DEADLINE"}
    while time.time() < deadline:
        if on_poll:
            on_poll()
        sel = (cluster.jobs(select_id) or [{}])[0]
        if sel.get("JobState") in final:
            break
        time.sleep(0.2)
    else:
        fail("the study did not finish within %d s" % seconds)
    tasks = [cluster.task(array_id, i) for i in range(1, iterations + 1)]
    for i, t in enumerate(tasks, 1):
        if t.get("JobState") != "COMPLETED" or t.get("ExitCode") != "0:0":
            fail("task %d: %s, exit code %s" % (i, t.get("JobState"), t.get("ExitCode")))
    if sel.get("JobState") != "COMPLETED" or sel.get("ExitCode") != "0:0":
        fail("select job: %s, exit code %s, reason %s" % (sel.get("JobState"), sel.get("ExitCode"), sel.get("Reason")))
    return tasks


def check_outputs(out, ref, iterations, epochs, what):
    r = json.load(open(os.path.join(out, "report.json")))
    its = r["iterations"]
    if len(its) != iterations or any(it["status"] != "finished" or it["epochs_done"] != epochs for it in its):
        fail("report.json should hold %d finished iterations of %d epochs: %r" % (iterations, epochs, its))
    with open(os.path.join(out, "best_model.h5"), "rb") as f:
        h5 = f.read()
    if not h5.startswith(b"\x89HDF\r\n\x1a\n") or len(h5) < 100000:
        fail("best_model.h5 is not an HDF5 model file (%d bytes)" % len(h5))
    leftovers = [f for _, _, files in os.walk(out) for f in files if ".tmp." in f]
    if leftovers:
        fail("temporary files left behind: %s" % leftovers)
    print("ok  report.json (%d iterations, test accuracy %.4f) and best_model.h5 (%d bytes)"
          % (iterations, r["test_accuracy"], len(h5)))
    app_check.same_results(ref, out, what)


REFERENCES = []  # killed at the end if still running


def reference(app, out, study):
    """The same study without Slurm, in the background: one process, one thread."""
    app_check.fresh(out)
    args = [app, "--out", out, "--threads", "1", "--quiet"] + study
    print("$ " + " ".join(args) + " &", flush=True)
    REFERENCES.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                       preexec_fn=die_with_parent))
    return REFERENCES[-1]


def finish_reference(proc):
    err = proc.communicate(timeout=max(10, left() - 30))[1]
    if proc.returncode != 0:
        fail("the reference run failed with %d: %s" % (proc.returncode, err))


def tiny_study(cluster, app, submit_sh, scratch, data):
    """2 iterations x 1 epoch x 3000 images, one task each, then select."""
    study = ["--iterations", "2", "--epochs", "1", "--train-limit", "3000", "--seed", "3", "--data", data]
    ref = reference(app, os.path.join(scratch, "tiny_ref"), study)
    out = app_check.fresh(os.path.join(scratch, "tiny"))
    array_id, select_id = submit(cluster, submit_sh, app, out, study)
    start = time.time()
    wait_done(cluster, array_id, select_id, 2, 150)
    print("ok  array job %s and select job %s finished in %.1f s" % (array_id, select_id, time.time() - start))
    for i in (1, 2):
        log = read(os.path.join(out, "slurm", "train_%s_%d.log" % (array_id, i)))
        if "--only-iteration %d" % i not in log or "Iteration %d/2" % i not in log or "1 thread(s)" not in log:
            fail("task %d's log should show iteration %d trained with 1 thread (from --cpus 1):\n%s" % (i, i, log))
    if "Test accuracy" not in read(os.path.join(out, "slurm", "select_%s.log" % select_id)):
        fail("the select job's log lacks the test result")
    finish_reference(ref)
    check_outputs(out, os.path.join(scratch, "tiny_ref"), 2, 1, "Slurm array + select vs one process")


def interrupted_study(cluster, app, submit_sh, scratch, data):
    """2 iterations x 4 epochs: task 1 is requeued by `scontrol requeue` while it trains its second epoch, task 2 is
    sent `scancel --signal=TERM` then; both must resume after the epoch they had finished."""
    epochs = 4
    study = ["--iterations", "2", "--epochs", str(epochs), "--train-limit", "5000", "--seed", "5", "--data", data]
    ref = reference(app, os.path.join(scratch, "stopped_ref"), study)
    out = app_check.fresh(os.path.join(scratch, "stopped"))
    array_id, select_id = submit(cluster, submit_sh, app, out, study)
    how = {1: ["scontrol", "requeue"], 2: ["scancel", "--signal=TERM"]}
    stopped, done_at_stop, pending_since, hurried = {}, {}, {}, set()
    logs = {i: os.path.join(out, "slurm", "train_%s_%d.log" % (array_id, i)) for i in how}

    def poll():
        for i, command in how.items():
            name = "%s_%d" % (array_id, i)
            t = cluster.task(array_id, i)
            # Right after the first epoch's checkpoint and CSV: in the middle of the second epoch.
            if i not in stopped and csv_rows(out, i) >= 1 and t.get("JobState") == "RUNNING":
                cluster.cmd(command + [name])
                stopped[i] = time.time()
                print("$ %s %s   (after %d epoch(s) of iteration %d)" % (" ".join(command), name, csv_rows(out, i), i),
                      flush=True)
            if i in stopped and i not in done_at_stop and "fashion_mnist: stopped by SIGTERM" in read(logs[i]):
                done_at_stop[i] = csv_rows(out, i)
            # Slurm holds a requeued job back for about two minutes (Reason=BeginTime): start it sooner. Not at once:
            # slurmd refuses a job whose credential was revoked (by the requeue) in the same second it was issued.
            if i in done_at_stop and t.get("JobState") == "PENDING" and t.get("Restarts") == "1" \
                    and t.get("Reason") == "BeginTime":
                pending_since.setdefault(i, time.time())
            if i in pending_since and i not in hurried and time.time() - pending_since[i] >= 2:
                # By name (4_2): an array's first task has the array's JobId, which would name every task.
                cluster.cmd(["scontrol", "update", "JobId=" + name, "StartTime=now"])
                hurried.add(i)
                print("requeued %s is pending (%s); released it %.1f s after the stop"
                      % (name, t.get("Reason"), time.time() - stopped[i]), flush=True)

    start = time.time()
    tasks = wait_done(cluster, array_id, select_id, 2, 240, poll)
    print("ok  array job %s and select job %s finished in %.1f s" % (array_id, select_id, time.time() - start))
    for i, t in enumerate(tasks, 1):
        log = read(logs[i])
        k = done_at_stop.get(i)
        if i not in stopped or k is None:
            fail("task %d was not stopped by SIGTERM:\n%s" % (i, log))
        if not 1 <= k < epochs:
            fail("task %d should have been stopped mid-study, after %r of %d epochs" % (i, k, epochs))
        if t.get("Restarts") != "1" or log.count("run 2:") != 1:
            fail("task %d should have run exactly twice (Restarts=%s):\n%s" % (i, t.get("Restarts"), log))
        if log.count("fashion_mnist: stopped by SIGTERM") != 1 or "resuming after epoch %d/%d" % (k, epochs) not in log:
            fail("task %d: its second run should resume after epoch %d:\n%s" % (i, k, log))
        who = ("Slurm is ending", "requeued")[i - 1]
        if "stopped by SIGTERM with every file complete; " + who not in log:
            fail("task %d: the script should say %r:\n%s" % (i, who, log))
        lock = read(os.path.join(out, "checkpoints", "iteration_%d.ckpt.lock" % i))
        if "Slurm job %s_%d after 1 requeue(s)" % (array_id, i) not in lock:
            fail("task %d: the requeued run should hold the lock its first run held, the file says %r" % (i, lock))
        print("ok  task %d (%s): stopped after epoch %d, requeued, resumed after epoch %d/%d"
              % (i, " ".join(how[i]), k, k, epochs))
    finish_reference(ref)
    check_outputs(out, os.path.join(scratch, "stopped_ref"), 2, epochs, "stopped, requeued and resumed under Slurm")


def cancelled_study(cluster, app, submit_sh, scratch, data):
    """A plain `scancel` of a training task mid-epoch: the app stops with its files complete, but the task stays
    cancelled (the script must not requeue it), and the select job, whose dependency can no longer be met, is
    cancelled too instead of waiting forever."""
    study = ["--iterations", "1", "--epochs", "4", "--train-limit", "5000", "--seed", "9", "--data", data]
    out = app_check.fresh(os.path.join(scratch, "cancelled"))
    array_id, select_id = submit(cluster, submit_sh, app, out, study)
    name = array_id + "_1"
    deadline = time.time() + min(120, left() - 40)
    while not (csv_rows(out, 1) >= 1 and cluster.task(array_id, 1).get("JobState") == "RUNNING"):
        if time.time() > deadline:
            fail("task %s did not finish its first epoch in time" % name)
        time.sleep(0.1)
    cluster.cmd(["scancel", name])
    print("$ scancel %s   (after %d epoch(s))" % (name, csv_rows(out, 1)), flush=True)
    while True:
        t, sel = cluster.task(array_id, 1), (cluster.jobs(select_id) or [{}])[0]
        if t.get("JobState") == "CANCELLED" and sel.get("JobState") == "CANCELLED":
            break
        if time.time() > deadline:
            fail("task %s should end cancelled (%s) and cancel select job %s (%s, %s)"
                 % (name, t.get("JobState"), select_id, sel.get("JobState"), sel.get("Reason")))
        time.sleep(0.2)
    time.sleep(3)  # a wrongly requeued task would be back in the queue by now
    t = cluster.task(array_id, 1)
    log = read(os.path.join(out, "slurm", "train_%s_1.log" % array_id))
    if t.get("JobState") != "CANCELLED" or t.get("Restarts") != "0":
        fail("the cancelled task came back: %s, Restarts=%s" % (t.get("JobState"), t.get("Restarts")))
    if "fashion_mnist: stopped by SIGTERM" not in log or "Slurm is ending " + name not in log:
        fail("the app should have stopped on SIGTERM and the script left the task to Slurm:\n" + log)
    print("ok  scancel %s: the app stopped cleanly, the task stayed cancelled, select job %s was cancelled"
          % (name, select_id))


def main():
    if len(sys.argv) != 4:
        print("usage: slurm_check.py APP SUBMIT_SH SCRATCH_DIR")
        return 2
    app, submit_sh, scratch = (os.path.abspath(a) for a in sys.argv[1:])
    missing = [n for n in DAEMONS + CLIENTS if not which(n)]
    if missing:
        print("SKIP: Slurm / munge binaries not found: %s (Debian: slurm-wlm munge)" % " ".join(missing))
        return 77
    if os.geteuid() != 0:
        fail("the test cluster runs slurmd, which launches jobs, as root: run as root (CI does)")
    data = app_check.data_dir()
    os.makedirs(scratch, exist_ok=True)

    def stop_on_signal(sig, _):
        raise SystemExit("stopped by signal %d" % sig)  # so that the daemons are stopped below

    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    cluster = Cluster()
    ok = False
    try:
        cluster.up()
        tiny_study(cluster, app, submit_sh, scratch, data)
        interrupted_study(cluster, app, submit_sh, scratch, data)
        cancelled_study(cluster, app, submit_sh, scratch, data)
        ok = True
    finally:
        if not ok:
            cluster.dump_logs()
        for p in REFERENCES:
            if p.poll() is None:
                p.kill()
                p.wait()
        cluster.stop()
        logs = os.path.join(scratch, "cluster_logs")
        shutil.rmtree(logs, ignore_errors=True)
        shutil.copytree(cluster.path("log"), logs, dirs_exist_ok=True)
        shutil.copy(cluster.conf, logs)
        shutil.rmtree(cluster.dir, ignore_errors=True)
        print("the daemons are stopped; their logs and slurm.conf are in " + logs)
    print("PASS slurm (%.1f s)" % (time.time() - START))
    return 0


if __name__ == "__main__":
    sys.exit(main())
