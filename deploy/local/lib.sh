# shellcheck shell=bash
# What stack.sh, secure-kafka.sh and scratch-kafka.sh share: logging, the
# jar cache, pid files that name their process, starting a JVM detached from
# the calling shell, waiting until a service answers, stopping it, and the
# configuration every single-node Kafka and Cassandra here has in common.
#
# Sourced, never run. The caller sets HERE (this folder), LOG_PREFIX (the
# word in front of every log line) and TIMEOUT (seconds to wait for a
# service) first.

JAR_CACHE="${DOCFLOW_JAR_CACHE:-$HOME/.cache/docflow/jars}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

log() { printf '[%s] %s\n' "$LOG_PREFIX" "$*" >&2; }
die() { printf '[%s] error: %s\n' "$LOG_PREFIX" "$*" >&2; exit 1; }

# The header comment of the running script, as its help text.
usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

need_java() {
  command -v "$JAVA" >/dev/null || die "java not found (install openjdk-17-jre-headless or set JAVA_HOME)"
  local v
  v="$("$JAVA" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')"
  [[ "${v%%.*}" -ge 17 ]] 2>/dev/null || die "Java 17+ needed, found '$v' ($JAVA)"
}

# ---------------------------------------------------------------- jars ----
# The jars of a service (kafka, cassandra) are copied to
# $JAR_CACHE/<service>-<hash of its pom.xml>/; stack.sh resolves them, and a
# .complete marker written last says they are all there.
jar_dir() { echo "$JAR_CACHE/$1-$(sha256sum "$HERE/$1/pom.xml" | cut -c1-12)"; }

# For the scripts that borrow stack.sh's jars: resolve them if missing.
ensure_jars() {
  [[ -f "$(jar_dir "$1")/.complete" ]] || "$HERE/stack.sh" fetch
}

# ---------------------------------------------------------- processes ----
# Every JVM started here carries -Ddocflow.stack=<tag> on its command line.
# tagged_pid PID_FILE TAG prints the pid from the file only if that process
# is alive and carries the tag, so a recycled pid is never mistaken for the
# service and never signalled.
tagged_pid() {
  local pid_file="$1" tag="$2" pid
  [[ -s "$pid_file" ]] || return 1
  pid="$(<"$pid_file")"
  [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-Ddocflow.stack=$tag " || return 1
  echo "$pid"
}

# launch_detached PID_FILE LOG_FILE COMMAND...: runs COMMAND under setsid,
# detached from this shell (stdin closed, output appended to LOG_FILE, lock
# fd 9 closed), so it outlives the script and does not hold its lock. The
# pid written is the command's own (the shell execs it).
launch_detached() {
  local pid_file="$1" log_file="$2"
  shift 2
  rm -f "$pid_file"
  # shellcheck disable=SC2016 # $$ and $0 belong to the child shell
  setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$pid_file" "$@" </dev/null >>"$log_file" 2>&1 9>&- &
  for _ in $(seq 50); do [[ -s "$pid_file" ]] && break; sleep 0.1; done
}

# wait_answering NAME PID_FILE TAG LOG_FILE INTERVAL PROBE...: runs PROBE
# every INTERVAL seconds until it succeeds and leaves its output in ANSWER.
# Stops the script, with the tail of LOG_FILE, when the process exits first
# or TIMEOUT seconds pass.
ANSWER=""
wait_answering() {
  local name="$1" pid_file="$2" tag="$3" log_file="$4" interval="$5" deadline
  shift 5
  deadline=$(( $(date +%s) + TIMEOUT ))
  until ANSWER="$("$@" 2>&1)"; do
    if ! tagged_pid "$pid_file" "$tag" >/dev/null; then
      tail -n 30 "$log_file" >&2 || true
      die "$name exited before it answered; see $log_file"
    fi
    if (( $(date +%s) >= deadline )); then
      tail -n 30 "$log_file" >&2 || true
      die "$name did not answer within ${TIMEOUT}s ($ANSWER); see $log_file"
    fi
    sleep "$interval"
  done
}

# stop_tagged NAME PID_FILE TAG: SIGTERM, up to 30 s to exit, then SIGKILL.
stop_tagged() {
  local name="$1" pid_file="$2" tag="$3" pid
  if ! pid="$(tagged_pid "$pid_file" "$tag")"; then
    rm -f "$pid_file"
    log "$name: not running (nothing started by this script)"
    return 0
  fi
  log "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name: pid $pid still alive after 30s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$pid_file"
  log "$name: stopped pid $pid"
}

# Start-to-ready time: DIR/started_at is written when a start begins;
# record_ready_seconds DIR writes DIR/ready_seconds once, when it first answers.
record_ready_seconds() {
  local d="$1"
  if [[ -f "$d/started_at" && ! -f "$d/ready_seconds" ]]; then
    python3 -c 'import sys,time;print(f"{time.time()-float(sys.argv[1]):.1f}")' "$(<"$d/started_at")" >"$d/ready_seconds"
  fi
}
ready_seconds() { cat "$1/ready_seconds" 2>/dev/null || echo '?'; }

# with_lock LOCK_FILE COMMAND...: runs COMMAND holding LOCK_FILE (fd 9), so
# two callers changing state at once cannot, say, launch two brokers.
with_lock() {
  local lock="$1"
  shift
  mkdir -p "$(dirname "$lock")"
  exec 9>"$lock"
  flock -w "$((TIMEOUT + 60))" 9 || die "another $(basename "$0") holds $lock"
  "$@"
}

# --------------------------------------------------------------- Kafka ----
# A Kafka cluster id: a random 16-byte UUID in unpadded URL-safe base64,
# never starting with '-' (the storage tool would read it as a flag).
new_cluster_id() {
  python3 -c 'import base64,os
while True:
    c = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    if not c.startswith("-"):
        print(c); break'
}

# kafka_kraft_properties PROTOCOL ADDR CONTROLLER_ADDR: the server.properties
# lines of a node that is both broker and KRaft controller, with one client
# listener (PROTOCOL on ADDR) and a plaintext controller listener on loopback.
kafka_kraft_properties() {
  local proto="$1" addr="$2" controller="$3"
  cat <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$controller
listeners=$proto://$addr,CONTROLLER://$controller
advertised.listeners=$proto://$addr
controller.listener.names=CONTROLLER
inter.broker.listener.name=$proto
listener.security.protocol.map=CONTROLLER:PLAINTEXT,$proto:$proto
EOF
}

# kafka_single_node_properties OFFSETS_PARTITIONS IO_THREADS: the
# server.properties lines of a one-broker cluster (every replication factor
# and ISR minimum 1, no initial rebalance delay, few threads).
kafka_single_node_properties() {
  cat <<EOF
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=$1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=$2
num.recovery.threads.per.data.dir=1
EOF
}

# kafka_log4j2_properties [ROOT_LEVEL]: Kafka's log4j2 configuration, to
# stdout (the caller sends it to the service's log file) at ROOT_LEVEL
# (default info), the chatty state-change and Raft loggers at WARN.
kafka_log4j2_properties() {
  cat <<EOF
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = ${1:-info}
rootLogger.appenderRef.out.ref = out
logger.controller.name = state.change.logger
logger.controller.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.raft.name = org.apache.kafka.raft
logger.raft.level = warn
EOF
}

# ----------------------------------------------------------- Cassandra ----
# cassandra_yaml_storage DIR: the cassandra.yaml lines that put every data
# folder under DIR/data.
cassandra_yaml_storage() {
  cat <<EOF
data_file_directories:
  - $1/data/data
commitlog_directory: $1/data/commitlog
saved_caches_directory: $1/data/saved_caches
hints_directory: $1/data/hints
cdc_raw_directory: $1/data/cdc_raw
commitlog_sync: periodic
commitlog_sync_period: 10000ms
commitlog_segment_size: 32MiB
EOF
}

# Cassandra's logback configuration: INFO to stdout.
cassandra_logback_xml() {
  cat <<'EOF'
<configuration scan="false">
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
</configuration>
EOF
}

# cassandra_jvm_common DIR JMX_PORT: the JVM options every Cassandra here
# needs besides its tag and heap: the module flags of apache/cassandra's
# conf/jvm17-server.options (Cassandra 5.0 on Java 17), Netty settings, the
# folders under DIR (conf/ and data/, logs/), quick single-node start-up, and
# the class path.
cassandra_jvm_common() {
  local d="$1" jmx="$2"
  echo "-Djdk.attach.allowAttachSelf=true" \
    "--add-exports java.base/jdk.internal.misc=ALL-UNNAMED" \
    "--add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED" \
    "--add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED" \
    "--add-exports java.rmi/sun.rmi.server=ALL-UNNAMED" \
    "--add-exports java.sql/java.sql=ALL-UNNAMED" \
    "--add-exports java.base/java.lang.ref=ALL-UNNAMED" \
    "--add-exports jdk.unsupported/sun.misc=ALL-UNNAMED" \
    "--add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED" \
    "--add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED" \
    "--add-opens java.base/java.lang.module=ALL-UNNAMED" \
    "--add-opens java.base/jdk.internal.loader=ALL-UNNAMED" \
    "--add-opens java.base/jdk.internal.ref=ALL-UNNAMED" \
    "--add-opens java.base/jdk.internal.reflect=ALL-UNNAMED" \
    "--add-opens java.base/jdk.internal.math=ALL-UNNAMED" \
    "--add-opens java.base/jdk.internal.module=ALL-UNNAMED" \
    "--add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED" \
    "--add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED" \
    "--add-opens java.base/sun.nio.ch=ALL-UNNAMED" \
    "--add-opens java.base/java.io=ALL-UNNAMED" \
    "--add-opens java.base/java.lang.reflect=ALL-UNNAMED" \
    "--add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED" \
    "--add-opens java.base/java.lang=ALL-UNNAMED" \
    "--add-opens java.base/java.util=ALL-UNNAMED" \
    "-Dio.netty.tryReflectionSetAccessible=true -Dio.netty.allocator.useCacheForAllThreads=true" \
    "-Dio.netty.allocator.maxOrder=11 -Djava.net.preferIPv4Stack=true" \
    "-Dcassandra.config=file://$d/conf/cassandra.yaml -Dcassandra.storagedir=$d/data" \
    "-Dcassandra.logdir=$d/logs -Dlogback.configurationFile=file://$d/conf/logback.xml" \
    "-Dcassandra-foreground=yes -Dcassandra.available_processors=2" \
    "-Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.ring_delay_ms=100" \
    "-Dcassandra.superuser_setup_delay_ms=0 -Dcassandra.migration_task_wait_in_seconds=1" \
    "-Dcassandra.jmx.local.port=$jmx -Dcassandra.triggers_dir=$d/conf/triggers" \
    "-cp $(jar_dir cassandra)/*"
}
