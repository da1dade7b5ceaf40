#!/usr/bin/env bash
# Integration test of the Slurm scale-out of musclecsa batch (docs/batch.md): starts a single-node
# Slurm on localhost (munged, slurmctld, slurmd, all as root, state and logs in a temporary folder),
# plans a batch of 4 phantom CT series with --plan --slurm 4, submits the job array with
# sbatch --wait, merges the 4 shards, and checks that the merged database and results.csv equal a
# local `musclecsa batch` of the same archive. All daemons are stopped on exit, also on failure.
# A daemon that does not start fails the test with its log. Usage: slurm_integration.sh MUSCLECSA
set -euo pipefail

musclecsa=$(realpath "${1:?usage: slurm_integration.sh path/to/musclecsa}")
[[ -x $musclecsa ]] || { echo "slurm_integration: $musclecsa: not an executable" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "slurm_integration: must run as root (it starts slurmctld and slurmd)" >&2; exit 1; }
for tool in munged slurmctld slurmd sinfo sbatch sacct scontrol sqlite3; do
  command -v "$tool" >/dev/null || { echo "slurm_integration: $tool not found: run scripts/install-deps" >&2; exit 1; }
done

work=$(mktemp -d /tmp/musclecsa-slurm.XXXXXX)
export SLURM_CONF=$work/slurm.conf
started=$(date +%s)

show_logs() {
  for log in "$work"/munge/munged.log "$work"/slurmctld.log "$work"/slurmd.log "$work"/run/shards/*/slurm-*; do
    [[ -f $log ]] || continue
    echo "----- $log (end) -----" >&2
    tail -n 40 "$log" >&2
  done
}

stop_daemons() {
  local status=$?
  for pidfile in "$work"/slurmd.pid "$work"/slurmctld.pid; do
    if [[ -s $pidfile ]]; then
      local pid
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  if [[ -S $work/munge/munge.socket ]]; then munged --stop --socket="$work/munge/munge.socket" >/dev/null 2>&1 || true; fi
  if [[ $status -ne 0 ]]; then
    echo "slurm_integration: FAILED (exit $status); logs:" >&2
    show_logs
  fi
  rm -rf "$work"
  exit "$status"
}
trap stop_daemons EXIT

fail() {
  echo "slurm_integration: $*" >&2
  exit 1
}

# Free TCP ports for slurmctld and slurmd (another Slurm may run on the default ones).
port_is_free() { ! (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 20000))
    if port_is_free "$port" && port_is_free "$((port + 1))"; then echo "$port"; return; fi
  done
  fail "no free TCP port pair found"
}
ctld_port=$(pick_port)
slurmd_port=$((ctld_port + 1))

# --- munge: a fresh key, a private socket ---
mkdir -p "$work"/munge "$work"/state "$work"/spool
chmod 755 "$work" "$work"/munge
head -c 1024 /dev/urandom >"$work"/munge/munge.key
chmod 400 "$work"/munge/munge.key
munged --force --socket="$work/munge/munge.socket" --key-file="$work/munge/munge.key" \
  --log-file="$work/munge/munged.log" --pid-file="$work/munge/munged.pid" --seed-file="$work/munge/munged.seed" ||
  fail "munged did not start"
munge -n --socket="$work/munge/munge.socket" | unmunge --socket="$work/munge/munge.socket" >/dev/null ||
  fail "munge cannot encode and decode a credential"

# --- slurm.conf: this machine's real CPUs and memory, no cgroups ---
node=$(slurmd -C | head -n 1)  # NodeName=<host> CPUs=.. Boards=.. SocketsPerBoard=.. CoresPerSocket=.. ThreadsPerCore=.. RealMemory=..
hardware=${node#NodeName=* }
cat >"$SLURM_CONF" <<EOF
ClusterName=musclecsatest
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/munge.socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 $hardware State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

slurmctld -i || fail "slurmctld did not start"
slurmd -N localhost || fail "slurmd did not start"
for _ in $(seq 60); do
  state=$(sinfo --noheader --nodes=localhost --format=%T 2>/dev/null || true)
  [[ $state == idle ]] && break
  sleep 1
done
[[ ${state:-} == idle ]] || fail "the node did not become idle within 60 s (sinfo: '${state:-no answer}')"
echo "slurm_integration: Slurm up on localhost ($hardware) after $(($(date +%s) - started)) s"

# --- the archive: 4 small phantom CT series and a file that is not DICOM ---
for seed in 1 2 3 4; do
  "$musclecsa" phantom --anatomy thigh --modality ct --columns 160 --pixel-spacing-mm 2.5 --slices 24 \
    --slice-spacing-mm 20 --seed "$seed" --quiet --out "$work/staging/$seed"
  mkdir -p "$work/archive"
  mv "$work/staging/$seed/dicom/ct" "$work/archive/ct$seed"
done
echo "not DICOM" >"$work/archive/notes.txt"

# --- plan, script, submit, merge ---
"$musclecsa" batch "$work/archive" --out "$work/run" --plan --slurm 4 --memory-mb 2048 --timeout-s 300
[[ -f $work/run/manifest.json && -x $work/run/batch.sbatch ]] || fail "--plan --slurm did not write manifest.json and batch.sbatch"
grep -q '^#SBATCH --array=0-3$' "$work/run/batch.sbatch" || fail "batch.sbatch has no 4-task array"
submitted=$(date +%s)
sbatch --wait "$work/run/batch.sbatch" || fail "the job array failed (sbatch --wait)"
echo "slurm_integration: job array finished in $(($(date +%s) - submitted)) s"
for task in 0 1 2 3; do
  [[ -f $work/run/shards/$task/batch.sqlite ]] || fail "task $task wrote no shard database"
  compgen -G "$work/run/shards/$task/slurm-*_$task.out" >/dev/null || fail "task $task wrote no Slurm output file"
  # Every task ran exactly its shard: case index % 4 == task, one case each.
  count=$(sqlite3 "$work/run/shards/$task/batch.sqlite" "SELECT COUNT(*) FROM cases WHERE status = 'done'")
  [[ $count == 1 ]] || fail "shard $task has $count done case(s), expected 1"
done
"$musclecsa" merge "$work"/run/shards/* --out "$work/run"

# --- the same archive analysed locally ---
"$musclecsa" batch "$work/archive" --out "$work/local" -j 2 --quiet

dump() {
  local db=$1
  sqlite3 "$db" "SELECT case_id, series_instance_uid, status, reason_code, measurement_count, protocol_hash FROM cases" | sort
  sqlite3 "$db" "SELECT case_id, seq, quantity, quote(value), unit, structure, structure_code, side, level, quote(slice), quote(z_mm)
                 FROM measurements" | sort
  sqlite3 "$db" "SELECT kind, item, reason_code FROM skipped" | sort
}
dump "$work/run/batch.sqlite" >"$work/merged.txt"
dump "$work/local/batch.sqlite" >"$work/local.txt"
[[ $(sqlite3 "$work/run/batch.sqlite" "SELECT COUNT(*) FROM cases WHERE status = 'done'") == 4 ]] || fail "merged database has not 4 done cases"
[[ $(sqlite3 "$work/run/batch.sqlite" "SELECT COUNT(*) FROM measurements") -gt 400 ]] || fail "merged database has too few measurements"
diff -q "$work/merged.txt" "$work/local.txt" >/dev/null || { diff "$work/merged.txt" "$work/local.txt" | head -n 20 >&2; fail "merged database differs from the local run"; }
diff -q <(sort "$work/run/results.csv") <(sort "$work/local/results.csv") >/dev/null || fail "merged results.csv differs from the local run's"
for id in $(sqlite3 "$work/run/batch.sqlite" "SELECT case_id FROM cases"); do
  [[ -f $work/run/cases/$id/results.json ]] || fail "merged folder lacks cases/$id/results.json"
done
echo "slurm_integration: merged results equal the local run ($(wc -l <"$work/merged.txt") rows); total $(($(date +%s) - started)) s"
