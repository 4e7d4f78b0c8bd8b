#!/bin/sh
# Stand-in for month-end closing.
set -eu
echo "closing the period for the occurrence of ${STAGEHAND_SCHEDULED_FOR:-(manual run)}"
sleep 5
echo "period closed"
