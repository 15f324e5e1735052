#!/bin/sh
# The "Containers" chapter, as a script the tests run (tests/it/lifecycle.rs).
set -eu

# ANCHOR: detached
id=$(devbox run -d --name web busybox sh -c 'echo ready; while true; do sleep 1; done')
devbox ps --format '{{.Names}}: {{.Status}}'
devbox logs web
# ANCHOR_END: detached

# ANCHOR: exec
devbox exec web ps
devbox exec -e GREETING=hi -w /tmp web sh -c 'echo $GREETING from $(pwd)'
# ANCHOR_END: exec

# ANCHOR: inspect
devbox inspect --format '{{.State.Status}} pid={{.State.Pid}}' web
devbox inspect --format '{{json .HostConfig.RestartPolicy}}' web
# ANCHOR_END: inspect

# ANCHOR: stop
devbox stop -t 2 web
devbox inspect --format '{{.State.ExitCode}}' web
devbox start web
devbox restart -t 1 web
devbox rm -f web
# ANCHOR_END: stop

# ANCHOR: restart
devbox run -d --name flaky --restart on-failure:2 busybox sh -c 'echo try; exit 1' >/dev/null
devbox wait flaky
devbox inspect --format '{{.RestartCount}} restarts' flaky
devbox logs flaky
devbox rm flaky
# ANCHOR_END: restart

test -n "$id"
