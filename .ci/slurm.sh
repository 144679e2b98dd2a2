#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine, and the workflow run through it.
#
# Installs Debian's slurm-wlm and munge (needs root), writes a one-node
# slurm.conf (partition `cpu`: this machine's CPUs and memory; no GPU
# partition: the CI machine has none), starts munged, slurmctld and slurmd,
# checks sinfo, runs the workflow on the tiny test data through the SLURM
# profile (workflows/profiles/slurm, snakemake-executor-plugin-slurm: every
# non-local job goes through sbatch), checks the predictions and the report,
# and stops the daemons (also on failure).
#
#   sudo .ci/slurm.sh                  # after `make test` (uses .venv)
#   VENV=/path/to/venv .ci/slurm.sh    # another environment with bioseq + snakemake
#
# There is no slurmdbd (no accounting), so sacct cannot tell job states: the
# run polls squeue instead (--slurm-status-command squeue).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
WORK="${WORK:-$(mktemp -d /tmp/bioseq-slurm.XXXXXX)}"
# The tests' tiny data (tests/data/workflow): config_fast.yaml (one dataset, kmer-linear, 2 shards)
# by default; CONFIG=config.yaml adds a second dataset, a 1-epoch cnn-lstm and unlabelled inputs.
CONFIG="${CONFIG:-config_fast.yaml}"
export PATH="$VENV/bin:$PATH" OMP_NUM_THREADS=1 MPLBACKEND=Agg
log() { echo "slurm.sh: $*" >&2; }

[ "$(id -u)" = 0 ] || { log "needs root (apt-get, daemons)"; exit 1; }
[ -x "$VENV/bin/snakemake" ] || { log "no snakemake in $VENV (run 'make test' first, or set VENV)"; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq slurm-wlm munge >/dev/null
fi

# ---- munge: the authentication every SLURM daemon and client uses ----------
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile /etc/munge/munge.key 2>/dev/null ||
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
chmod 0400 /etc/munge/munge.key

# ---- slurm.conf: one node (this machine), one partition -------------------
NODE="$(hostname -s)"
CPUS="$(getconf _NPROCESSORS_ONLN)"   # not nproc: it honours OMP_NUM_THREADS
MEM_MB="$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)"
mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
cat > /etc/slurm/slurm.conf <<CONF
# Written by bioseq .ci/slurm.sh: a one-node test cluster.
ClusterName=bioseq-ci
SlurmctldHost=$NODE
AuthType=auth/munge
SlurmUser=root
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
MinJobAge=300
NodeName=$NODE CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=cpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF

stop_daemons() {
    log "stopping the daemons"
    scontrol shutdown >/dev/null 2>&1 || true
    for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
        if [ -s "$pidfile" ]; then
            pid="$(cat "$pidfile")"
            for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
            kill "$pid" 2>/dev/null || true
        fi
    done
}
trap stop_daemons EXIT

log "starting munged, slurmctld, slurmd (node $NODE: $CPUS CPUs, $MEM_MB MB)"
runuser -u munge -- munged
munge -n | unmunge >/dev/null
slurmctld
slurmd
for _ in $(seq 30); do
    sinfo -h -N -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)' && break
    sleep 1
done
sinfo
sinfo -h -N -o '%T' | grep -qE '^(idle|mixed|allocated)' || { log "the node is not up"; tail -20 /var/log/slurm/*.log; exit 1; }

# ---- the workflow through sbatch -------------------------------------------
cp -r "$REPO/tests/data/workflow/." "$WORK/"
cd "$WORK"
log "running the workflow in $WORK through SLURM"
t0=$(date +%s)
snakemake -s "$REPO/Snakefile" --profile "$REPO/workflows/profiles/slurm" --configfile "$CONFIG" \
    --slurm-status-command squeue --slurm-init-seconds-before-status-checks 5 --latency-wait 10 --jobs 4 \
    --retries 0 \
    --set-resources train:mem_mb=1500 predict:mem_mb=1000 embed:mem_mb=1000 evaluate:mem_mb=1000 \
    > snakemake.log 2>&1 || { tail -60 snakemake.log; tail -20 /var/log/slurm/*.log; exit 1; }
log "workflow done in $(( $(date +%s) - t0 )) s"
submitted="$(grep -c 'has been submitted with SLURM jobid' snakemake.log || true)"
[ "$submitted" -gt 0 ] || { log "no job went through sbatch"; tail -40 snakemake.log; exit 1; }
log "$submitted jobs went through sbatch"
for rule in shard gather_predictions merge_caches compare; do   # local rules: on this host, not sbatch
    [ ! -e ".snakemake/slurm_logs/rule_$rule" ] || { log "local rule $rule was submitted"; exit 1; }
done
snakemake -s "$REPO/Snakefile" --configfile "$CONFIG" --cores 1 --report report.html > report.log 2>&1 ||
    { tail -30 report.log; exit 1; }

CONFIG="$CONFIG" python - <<'PY'
"""Every prediction table has one row per input record, in input order; the report holds the comparison table."""
import gzip
import os
from pathlib import Path

import yaml

cfg = yaml.safe_load(Path(os.environ["CONFIG"]).read_text())

def ids(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as fh:
        return [line[1:].split()[0] for line in fh if line.startswith(">")]

checked = 0
for ds, spec in cfg["datasets"].items():
    predict = spec.get("predict", {})
    inputs = {"test": spec["test"], **(predict if isinstance(predict, dict) else
                                       {Path(p).name.split(".")[0]: p for p in predict})}
    for model in cfg["models"]:
        for name, path in inputs.items():
            table = Path("results/predictions") / f"{ds}.{model}.{name}.tsv"
            rows = table.read_text().splitlines()
            assert [r.split("\t")[0] for r in rows[1:]] == ids(path), table
            checked += 1
html = Path("report.html").read_text(errors="replace")
assert "model_comparison.tsv" in html, "report: no comparison table"
assert f"trained and evaluated {len(cfg['models'])} model configuration(s)" in html, "report: front page"
print(f"slurm.sh: {checked} prediction tables match their inputs; report.html has the comparison table")
PY
log "ok"
