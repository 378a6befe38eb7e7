#!/usr/bin/env bash
# Runs the official Azure IoT SDKs against `hubdeck sim --ephemeral --port 443` (MQTT on 8883):
#   Python azure-iot-hub==2.7.0 (+ six, which it forgets to declare),
#     azure-iot-deviceprovisioning==1.0.0b1 and azure-iot-device==2.14.0, pinned in requirements.lock
#   Node azure-iothub@1.16.6, azure-iot-provisioning-service@1.11.2,
#     azure-iot-provisioning-device@1.9.1 + azure-iot-provisioning-device-http@1.9.1,
#     azure-iot-provisioning-device-mqtt@1.8.1, azure-iot-security-symmetric-key@1.8.2 (no 1.9.x
#     exists), azure-iot-device@1.18.4 + azure-iot-device-mqtt@1.16.4, pinned in node/package-lock.json
# Then the seed scenario (examples/seed_scenario.rs): a Python simDevice app (tests/sdk/seed/)
# answers the lockDoor job and receives the twin-update job scheduled by hubdeck's client.
# The DPS scripts (dps_*.py, node/dps_*.js) use the `hubs` and `dps` sections of the ready file;
# DPS is served on the first hub's listener, the second hub on its own port. hub_quotas.py runs
# against a second, S1 simulator on a free port (429004 for a second job, 403002 over quota).
# Needs root (the Node SDKs reach only port 443), python3 and npm. Any install failure fails the run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${HUBDECK_BIN:-$root/target/debug/hubdeck}"

if [ ! -x "$bin" ]; then
  cargo build --manifest-path "$root/Cargo.toml" --bin hubdeck
fi

venv="$here/.venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.lock"
(cd "$here/node" && npm ci --no-audit --no-fund --loglevel=error)

work="$(mktemp -d)"
ready="$work/ready.json"
"$bin" sim --ephemeral --port 443 --ready-file "$ready" >"$work/sim.log" 2>&1 &
sim_pid=$!
sim_s1_pid=""
cleanup() {
  kill "$sim_pid" 2>/dev/null || true
  wait "$sim_pid" 2>/dev/null || true
  if [ -n "$sim_s1_pid" ]; then
    kill "$sim_s1_pid" 2>/dev/null || true
    wait "$sim_s1_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 200); do
  [ -s "$ready" ] && break
  if ! kill -0 "$sim_pid" 2>/dev/null; then
    echo "the simulator exited:" >&2
    cat "$work/sim.log" >&2
    exit 1
  fi
  sleep 0.05
done
if [ ! -s "$ready" ]; then
  echo "the simulator did not become ready in 10 s" >&2
  cat "$work/sim.log" >&2
  exit 1
fi
ca="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["caFile"])' "$ready")"

# Machines may export their own bundles; the simulator's CA must win for these processes.
for script in "$here"/*.py; do
  # hub_quotas.py needs the S1 simulator started below.
  [ "$(basename "$script")" = hub_quotas.py ] && continue
  echo "== $(basename "$script")"
  env -u SSL_CERT_FILE REQUESTS_CA_BUNDLE="$ca" "$venv/bin/python" "$script" "$ready"
done
for script in "$here"/node/*.js; do
  echo "== node/$(basename "$script")"
  NODE_EXTRA_CA_CERTS="$ca" node "$script" "$ready"
done
echo "== hub_quotas.py (a second simulator: --tier S1 --daily-messages 3)"
ready_s1="$work/ready-s1.json"
"$bin" sim --ephemeral --port 0 --west-port 0 --no-mqtt --no-dps-demo --devices 0 --tier S1 --daily-messages 3 \
  --ready-file "$ready_s1" >"$work/sim-s1.log" 2>&1 &
sim_s1_pid=$!
for _ in $(seq 1 200); do
  [ -s "$ready_s1" ] && break
  sleep 0.05
done
if [ ! -s "$ready_s1" ]; then
  echo "the S1 simulator did not become ready in 10 s" >&2
  cat "$work/sim-s1.log" >&2
  exit 1
fi
ca_s1="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["caFile"])' "$ready_s1")"
env -u SSL_CERT_FILE REQUESTS_CA_BUNDLE="$ca_s1" "$venv/bin/python" "$here/hub_quotas.py" "$ready_s1"
kill "$sim_s1_pid" 2>/dev/null || true
wait "$sim_s1_pid" 2>/dev/null || true
sim_s1_pid=""
echo "== seed scenario"
cargo build --quiet --manifest-path "$root/Cargo.toml" --example seed_scenario
"$root/target/debug/examples/seed_scenario" "$ready" "$venv/bin/python"
echo "SDK conformance: all passed"
