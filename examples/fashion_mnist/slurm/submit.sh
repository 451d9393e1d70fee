#!/usr/bin/env bash
# Submits the Fashion-MNIST study to Slurm in one command: an array job with one task per iteration, and `select`
# as a job that starts once every task has succeeded. Prints both job ids.
#
#   submit.sh [--app PATH] [--cpus N] [--sbatch OPTION]... [study options]
#
#   --app PATH      the fashion_mnist binary, on a path every node sees (default: this tree's
#                   build/examples/fashion_mnist/fashion_mnist, else fashion_mnist on PATH)
#   --cpus N        CPUs per task, which are the app's threads (default 2)
#   --sbatch OPT    one more sbatch option for both jobs, e.g. --sbatch --partition=long --sbatch --time=4:00:00
#                   (sbatch's SBATCH_* environment variables work too)
#
# Study options go to `fashion_mnist train` (--out, --iterations, --epochs, --train-limit, --model, --seed, ...;
# --data and --out to `select` as well). --out (default results) must be on a filesystem that every node sees; the
# jobs' logs go to OUT/slurm/. --threads comes from --cpus and --only-iteration from the task id.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "submit.sh: $*" >&2; exit 2; }

app="" cpus=2 out=results iterations=4 data=""
sbatch_opts=() study=()
while (($#)); do
  opt=$1 value="" has_value=0
  case $opt in
    --*=*) value=${opt#*=} opt=${opt%%=*} has_value=1 ;;
  esac
  case $opt in
    -h | --help) usage; exit 0 ;;
    --app | --cpus | --sbatch | --out | --iterations | --data)
      if ((!has_value)); then
        (($# >= 2)) || die "$opt needs a value"
        value=$2
        shift
      fi
      case $opt in
        --app) app=$value ;;
        --cpus) cpus=$value ;;
        --sbatch) sbatch_opts+=("$value") ;;
        --out) out=$value ;;
        --iterations) iterations=$value ;;
        --data) data=$value ;;
      esac ;;
    --threads | --only-iteration) die "$opt is set per task (--cpus, the array task id)" ;;
    *) study+=("$1") ;;
  esac
  shift
done
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "--cpus must be a positive integer, got '$cpus'"
[[ $iterations =~ ^[1-9][0-9]*$ ]] || die "--iterations must be a positive integer, got '$iterations'"
command -v sbatch >/dev/null || die "sbatch not found: is this a Slurm login node?"

if [ -z "$app" ]; then
  app=$here/../../../build/examples/fashion_mnist/fashion_mnist
  [ -x "$app" ] || app=$(command -v fashion_mnist) || die "no fashion_mnist binary: build it or give --app"
fi
[ -x "$app" ] || die "--app '$app' is not an executable file"
app=$(cd "$(dirname "$app")" && pwd)/$(basename "$app")
mkdir -p "$out/slurm"
out=$(cd "$out" && pwd)
data_opt=()
if [ -n "$data" ]; then
  [ -d "$data" ] || die "--data '$data' is not a directory"
  data_opt=(--data "$(cd "$data" && pwd)")
fi

# sbatch --parsable prints "id" or "id;cluster".
array=$(sbatch --parsable --job-name=fashion_mnist-train "${sbatch_opts[@]}" --array="1-$iterations" \
  --cpus-per-task="$cpus" --output="$out/slurm/train_%A_%a.log" "$here/study.sbatch" "$app" train --out "$out" \
  --iterations "$iterations" "${data_opt[@]}" "${study[@]}")
array=${array%%;*}
echo "Training: array job $array, tasks 1-$iterations (task i trains iteration i)," \
  "logs $out/slurm/train_${array}_<i>.log"
# afterok on an array job waits for every task; if one fails for good, the select job is cancelled, not left waiting.
select=$(sbatch --parsable --job-name=fashion_mnist-select "${sbatch_opts[@]}" --dependency="afterok:$array" \
  --kill-on-invalid-dep=yes --cpus-per-task="$cpus" --output="$out/slurm/select_%j.log" \
  "$here/study.sbatch" "$app" select --out "$out" "${data_opt[@]}")
select=${select%%;*}
echo "Select:   job $select, starts when every task has succeeded, log $out/slurm/select_$select.log"
echo "Follow with: squeue -j $array,$select    Results: $out/report.md"
