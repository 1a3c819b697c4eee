#!/usr/bin/env bash
# Create an experiment once, then submit N workers as a SLURM job array.
#
#   storage/slurm/submit.sh NAME EXPERIMENT WORKERS [MAX_AT_ONCE] [extra `study create` flags]
#   e.g. storage/slurm/submit.sh digits-v1 digits 32 8 --trials 50
#
# EXPERIMENT is a shipped experiment (digits, spiral) or a TOML file. Needs STUDY_STORAGE and
# STUDY_ARTIFACTS (see study-workers.sbatch).
set -euo pipefail
NAME=${1:?usage: submit.sh NAME EXPERIMENT WORKERS [MAX_AT_ONCE] [create flags...]}
EXPERIMENT=${2:?experiment name or TOML file}
WORKERS=${3:?number of workers}
AT_ONCE=${4:-$WORKERS}
shift $(( $# < 4 ? $# : 4 ))
: "${STUDY_STORAGE:?set STUDY_STORAGE=postgresql+psycopg://USER@DBHOST:5432/DB}"
STUDY=${STUDY_BIN:-.venv/bin/study}

if [ -f "$EXPERIMENT" ]; then source_flag=(--config "$EXPERIMENT")
else source_flag=(--experiment "$EXPERIMENT"); fi
# One creation step before any worker: creating tables from many workers at once can race.
"$STUDY" create --name "$NAME" "${source_flag[@]}" "$@"
sbatch --array="0-$(( WORKERS - 1 ))%${AT_ONCE}" "$(dirname "$0")/study-workers.sbatch" "$NAME"
