#!/usr/bin/env bash
# Submit N study workers for an existing experiment as one SLURM job array.
#
#   storage/slurm/submit.sh NAME N[%K] [sbatch options...] [-- worker options...]
#
#   storage/slurm/submit.sh digits-v1 8                       # 8 workers, CPU only
#   storage/slurm/submit.sh digits-v1 32%8 --gres=gpu:1 --cpus-per-task=4 --mem=16G --requeue
#   storage/slurm/submit.sh digits-v1 4 --time=2:00:00 -- --poll 5
#
# N workers, at most K at a time (default: all). Options before `--` go to sbatch and override
# the job script's (#SBATCH lines of study-workers.sbatch); options after `--` go to every
# `study worker`. Create the experiment first, once (`study create --name NAME ...`): workers
# never create. Needs, in the environment (sbatch passes it on to the jobs; the URL is never on
# a command line):
#   STUDY_STORAGE    postgresql+psycopg://USER@DBHOST:5432/DB (password in ~/.pgpass or
#                    PGPASSWORD, not in the URL)
#   (artifacts go where the experiment recorded at `study create`: the database by default)
#   STUDY_BIN        the `study` executable the jobs run (default: ./.venv/bin/study, from the
#                    directory you submit from, which is also where the logs go)
set -euo pipefail
usage="usage: $0 NAME N[%K] [sbatch options...] [-- worker options...]"
NAME=${1:?$usage}
WORKERS=${2:?$usage}
shift 2
SBATCH_OPTIONS=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do SBATCH_OPTIONS+=("$1"); shift; done
[ $# -gt 0 ] && shift   # the `--`; what is left goes to the workers
die() { echo "submit.sh: $*" >&2; exit 2; }

[[ $WORKERS =~ ^([1-9][0-9]*)(%([1-9][0-9]*))?$ ]] \
  || die "N[%K]: '$WORKERS' is not a number of workers (e.g. 8, or 32%8 for at most 8 at a time)"
ARRAY="0-$(( BASH_REMATCH[1] - 1 ))${BASH_REMATCH[2]}"
: "${STUDY_STORAGE:?set STUDY_STORAGE=postgresql+psycopg://USER@DBHOST:5432/DB}"
case "$STUDY_STORAGE" in
  postgresql://*|postgresql+psycopg://*|postgres://*) ;;
  *) die "STUDY_STORAGE must be a PostgreSQL URL that every node reaches (a journal or SQLite" \
         "file is for one machine)" ;;
esac
export STUDY_BIN=${STUDY_BIN:-$PWD/.venv/bin/study}
[ -x "$STUDY_BIN" ] || die "STUDY_BIN=$STUDY_BIN is not executable: point it at the study command"

# The experiment must exist (this also checks that the database is reachable from here).
"$STUDY_BIN" status --name "$NAME" >/dev/null || die "no experiment $NAME to work on (see above)"
sbatch --array="$ARRAY" "${SBATCH_OPTIONS[@]}" "$(dirname "$0")/study-workers.sbatch" "$NAME" "$@"
