#!/usr/bin/env bash
# A second, secured single-node Kafka 4 (KRaft) for the TLS + SASL tests:
# SASL_SSL only (SCRAM-SHA-512 and PLAIN), certificates made here with openssl,
# same jars as stack.sh (its jar cache; `stack.sh fetch` resolves them).
# Optionally a second Cassandra 5 with PasswordAuthenticator and client TLS
# (`cassandra` or `all` argument; ~1 GiB resident, 30-60 s to start).
#
#   deploy/local/secure-kafka.sh up [kafka|cassandra|all]    make certificates and users on first run, start, wait until it answers
#   deploy/local/secure-kafka.sh down [kafka|cassandra|all]  stop what this script started (by pid file)
#   deploy/local/secure-kafka.sh status   state, pid, address of both; exit 0 iff Kafka answers
#   deploy/local/secure-kafka.sh env      the DOCFLOW_KAFKA_* / DOCFLOW_SCYLLA_* settings a client needs (passwords by file, never printed)
#   deploy/local/secure-kafka.sh reset    down all + wipe data, certificates and passwords
# (no service argument: kafka.)
#
# Cassandra: CQL over TLS only on 127.0.0.1:19042 (storage 17000, JMX 17199),
# the same CA-signed certificate, PasswordAuthenticator. Its bootstrap
# superuser is cassandra/cassandra (a loopback test instance); the `docflow`
# role (password in secrets/cassandra-docflow.password) is created by the
# test through the driver on first use (there is no cqlsh here).
#
# Listeners: SASL_SSL 127.0.0.1:19093 (clients and inter-broker), CONTROLLER
# 127.0.0.1:19094 (plaintext, loopback, KRaft quorum only).
# Users (random passwords, made once, files mode 600 under secrets/):
#   admin    SCRAM-SHA-512 + PLAIN, inter-broker
#   docflow  SCRAM-SHA-512 + PLAIN, the pipeline's user
# SCRAM users are created at storage-format time (`StorageTool format --add-scram`),
# PLAIN users live in the listener's JAAS config.
#
# Environment:
#   DOCFLOW_STATE_DIR      as stack.sh (default <repo>/.state); this broker's state is in <it>/secure-kafka
#   DOCFLOW_JAR_CACHE      as stack.sh (default ~/.cache/docflow/jars)
#   DOCFLOW_STACK_TIMEOUT  seconds to wait for readiness (default 180)
#   JAVA_HOME              Java 17+ (default: java on PATH)
set -euo pipefail
set -f  # "-cp <dir>/*" is expanded by java, not the shell

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
STATE="${DOCFLOW_STATE_DIR:-$REPO/.state}"
D="$STATE/secure-kafka"
TIMEOUT="${DOCFLOW_STACK_TIMEOUT:-180}"
LOG_PREFIX=secure-kafka
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"
KEYTOOL="${JAVA_HOME:+$JAVA_HOME/bin/}keytool"

ADDR=127.0.0.1:19093
CONTROLLER_ADDR=127.0.0.1:19094
TAG=secure-kafka  # -Ddocflow.stack=<TAG> marks our process
PID_FILE="$D/$TAG.pid"
LOG="$D/logs/$TAG.out"

# Our pid, only if alive and really ours.
our_pid() { tagged_pid "$PID_FILE" "$TAG"; }

secret() { cat "$D/secrets/$1.password"; }

# ------------------------------------------------------------ certificates ----
# CA (10 years) and a broker certificate for 127.0.0.1 / localhost signed by
# it; the broker reads a PKCS12 keystore and truststore made with keytool.
make_certs() {
  local t="$D/tls"
  [[ -f "$t/.complete" ]] && return 0
  command -v openssl >/dev/null || die "openssl not found"
  command -v "$KEYTOOL" >/dev/null || die "keytool not found (Java 17 JDK/JRE)"
  rm -rf "$t"; mkdir -p "$t"; chmod 700 "$t"
  log "making a CA and the broker certificate with openssl in $t"
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=docflow test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$t/ca.key" -out "$t/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
    -keyout "$t/broker.key" -out "$t/broker.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n' >"$t/broker.ext"
  openssl x509 -req -sha256 -days 3650 -in "$t/broker.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial \
    -extfile "$t/broker.ext" -out "$t/broker.crt" 2>/dev/null
  openssl verify -CAfile "$t/ca.crt" "$t/broker.crt" >/dev/null || die "the broker certificate does not verify against the CA"
  # Keystore: the broker key + chain as PKCS12, then re-written by keytool so
  # Java reads it whatever openssl's default PKCS12 ciphers are.
  openssl pkcs12 -export -name broker -in "$t/broker.crt" -inkey "$t/broker.key" -certfile "$t/ca.crt" \
    -passout "pass:$(secret keystore)" -out "$t/broker.openssl.p12"
  "$KEYTOOL" -importkeystore -noprompt -srckeystore "$t/broker.openssl.p12" -srcstoretype PKCS12 \
    -srcstorepass "$(secret keystore)" -destkeystore "$t/broker.p12" -deststoretype PKCS12 \
    -deststorepass "$(secret keystore)" >/dev/null 2>&1 || die "keytool could not import the broker keystore"
  "$KEYTOOL" -importcert -noprompt -alias docflow-ca -file "$t/ca.crt" -keystore "$t/truststore.p12" \
    -storetype PKCS12 -storepass "$(secret keystore)" >/dev/null 2>&1 || die "keytool could not make the truststore"
  rm -f "$t/broker.openssl.p12" "$t/broker.csr" "$t/broker.ext"
  chmod 600 "$t/ca.key" "$t/broker.key" "$t/broker.p12" "$t/truststore.p12"
  touch "$t/.complete"
}

make_secrets() {
  local s="$D/secrets" u
  mkdir -p "$s"; chmod 700 "$s"
  for u in admin docflow keystore cassandra-docflow; do
    [[ -s "$s/$u.password" ]] && continue
    # Letters and digits only: the values go into JAAS and --add-scram quoting unescaped.
    (umask 077; python3 -c 'import secrets,string; a=string.ascii_letters+string.digits; print("".join(secrets.choice(a) for _ in range(32)))' >"$s/$u.password")
  done
}

# --------------------------------------------------------------- config ----
write_config() {
  mkdir -p "$D/conf" "$D/data" "$D/logs"
  local t="$D/tls" admin docflow ks
  admin="$(secret admin)"; docflow="$(secret docflow)"; ks="$(secret keystore)"
  (umask 077; cat >"$D/conf/server.properties" <<EOF
# Generated by deploy/local/secure-kafka.sh: single-node KRaft, SASL_SSL only.
$(kafka_kraft_properties SASL_SSL "$ADDR" "$CONTROLLER_ADDR")
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin";
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$admin" user_admin="$admin" user_docflow="$docflow";
ssl.keystore.type=PKCS12
ssl.keystore.location=$t/broker.p12
ssl.keystore.password=$ks
ssl.key.password=$ks
ssl.truststore.type=PKCS12
ssl.truststore.location=$t/truststore.p12
ssl.truststore.password=$ks
ssl.client.auth=none
ssl.endpoint.identification.algorithm=https
log.dirs=$D/data
$(kafka_single_node_properties 4 2)
log.segment.bytes=67108864
delete.topic.enable=true
EOF
  )
  {
    echo "# Generated by deploy/local/secure-kafka.sh: to stdout, which goes to logs/secure-kafka.out."
    kafka_log4j2_properties info
  } >"$D/conf/log4j2.properties"
}

jvm_opts() {
  echo "-Ddocflow.stack=$TAG -Xms128m -Xmx384m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError" \
    "-XX:ActiveProcessorCount=2 -XX:TieredStopAtLevel=1 -Djava.awt.headless=true" \
    "-Dlog4j2.configurationFile=file:$D/conf/log4j2.properties -Dkafka.logs.dir=$D/logs" \
    "-cp $(jar_dir kafka)/*"
}

format_storage() {
  [[ -f "$D/data/meta.properties" ]] && return 0
  local cluster_id
  cluster_id="$(new_cluster_id)"
  log "formatting storage with SCRAM-SHA-512 users admin and docflow"
  # shellcheck disable=SC2046
  "$JAVA" $(jvm_opts) kafka.tools.StorageTool format -t "$cluster_id" -c "$D/conf/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=$(secret admin)]" \
    --add-scram "SCRAM-SHA-512=[name=docflow,password=$(secret docflow)]" \
    --ignore-formatted >>"$LOG" 2>&1 || die "storage format failed, see $LOG"
}

# ------------------------------------------------------------ Cassandra ----
CQL_ADDR=127.0.0.1:19042
C="$STATE/secure-cassandra"
CTAG=secure-cassandra
C_PID_FILE="$C/$CTAG.pid"
C_LOG="$C/logs/$CTAG.out"

cassandra_pid() { tagged_pid "$C_PID_FILE" "$CTAG"; }

write_cassandra_config() {
  mkdir -p "$C/conf/triggers" "$C/data" "$C/logs"
  (umask 077; cat >"$C/conf/cassandra.yaml" <<EOF
# Generated by deploy/local/secure-kafka.sh: single node, loopback, password
# authentication, CQL over TLS only.
cluster_name: docflow-secure
num_tokens: 1
initial_token: 0
allocate_tokens_for_local_replication_factor: 1
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
storage_compatibility_mode: NONE
authenticator: PasswordAuthenticator
authorizer: CassandraAuthorizer
role_manager: CassandraRoleManager
network_authorizer: AllowAllNetworkAuthorizer
roles_validity: 0ms
permissions_validity: 0ms
credentials_validity: 0ms
$(cassandra_yaml_storage "$C")
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:17000"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: 17000
native_transport_port: ${CQL_ADDR##*:}
start_native_transport: true
endpoint_snitch: SimpleSnitch
client_encryption_options:
  enabled: true
  optional: false
  keystore: $D/tls/broker.p12
  keystore_password: $(secret keystore)
  store_type: PKCS12
  require_client_auth: false
memtable_heap_space: 64MiB
memtable_offheap_space: 64MiB
memtable_flush_writers: 1
concurrent_reads: 4
concurrent_writes: 4
concurrent_counter_writes: 2
concurrent_materialized_view_writes: 2
concurrent_compactors: 1
key_cache_size: 8MiB
prepared_statements_cache_size: 8MiB
native_transport_max_threads: 16
read_request_timeout: 10000ms
write_request_timeout: 5000ms
request_timeout: 20000ms
auto_snapshot: false
materialized_views_enabled: false
sasi_indexes_enabled: true
EOF
  )
  cassandra_logback_xml >"$C/conf/logback.xml"
}

cassandra_jvm_opts() {
  echo "-Ddocflow.stack=$CTAG -Xms768m -Xmx768m -Xmn192m -XX:+UseG1GC -XX:+ParallelRefProcEnabled" \
    "-XX:MaxGCPauseMillis=300 -XX:ActiveProcessorCount=2 -XX:+ExitOnOutOfMemoryError" \
    "$(cassandra_jvm_common "$C" 17199)"
}

# tls_ready ADDR LOG_FILE PATTERN: a TLS handshake on ADDR verifies against
# our CA, and the server's log shows PATTERN (it has started).
tls_ready() {
  timeout 5 openssl s_client -connect "$1" -CAfile "$D/tls/ca.crt" -verify_return_error -verify_ip 127.0.0.1 \
    </dev/null >/dev/null 2>&1 || { echo "no verified TLS handshake on $1"; return 1; }
  grep -q "$3" "$2" 2>/dev/null || { echo "TLS up, still starting"; return 1; }
}

# Ready: CQL over TLS and the CQL server started.
cassandra_probe() {
  tls_ready "$CQL_ADDR" "$C_LOG" "Startup complete\|Starting listening for CQL clients" || return 1
  echo "secure-cassandra $CQL_ADDR ok: CQL over TLS verified against $D/tls/ca.crt, PasswordAuthenticator"
}

cassandra_up() {
  mkdir -p "$C/logs"
  local pid
  if pid="$(cassandra_pid)"; then
    log "cassandra: already running (pid $pid)"
  else
    need_java
    ensure_jars cassandra
    make_secrets
    make_certs
    write_cassandra_config
    date +%s.%N >"$C/started_at"
    rm -f "$C/ready_seconds"
    printf '\n===== %s starting =====\n' "$(date -Is)" >>"$C_LOG"
    # shellcheck disable=SC2046 # the options are split on purpose (globbing is off)
    launch_detached "$C_PID_FILE" "$C_LOG" "$JAVA" $(cassandra_jvm_opts) org.apache.cassandra.service.CassandraDaemon
    log "cassandra: started pid $(<"$C_PID_FILE"), log $C_LOG"
  fi
  wait_answering cassandra "$C_PID_FILE" "$CTAG" "$C_LOG" 1 cassandra_probe
  record_ready_seconds "$C"
  log "cassandra: ready after $(ready_seconds "$C")s: $ANSWER"
}

cassandra_down() { stop_tagged cassandra "$C_PID_FILE" "$CTAG"; }

# ------------------------------------------------------------ lifecycle ----
# Ready: TLS and the broker started (SASL is then exercised by every client).
probe() {
  tls_ready "$ADDR" "$LOG" "Kafka Server started" || return 1
  echo "secure-kafka $ADDR ok: TLS verified against $D/tls/ca.crt, SASL SCRAM-SHA-512/PLAIN"
}

cmd_up() {
  mkdir -p "$D/logs"
  local pid
  if pid="$(our_pid)"; then
    log "already running (pid $pid)"
  else
    need_java
    ensure_jars kafka
    make_secrets
    make_certs
    write_config
    date +%s.%N >"$D/started_at"
    rm -f "$D/ready_seconds"
    format_storage
    printf '\n===== %s starting =====\n' "$(date -Is)" >>"$LOG"
    # shellcheck disable=SC2046 # the options are split on purpose (globbing is off)
    launch_detached "$PID_FILE" "$LOG" "$JAVA" $(jvm_opts) kafka.Kafka "$D/conf/server.properties"
    log "started pid $(<"$PID_FILE"), log $LOG"
  fi
  wait_answering kafka "$PID_FILE" "$TAG" "$LOG" 0.5 probe
  record_ready_seconds "$D"
  log "ready after $(ready_seconds "$D")s: $ANSWER"
}

cmd_down() {
  stop_tagged kafka "$PID_FILE" "$TAG"
  rm -f "$D/ready_seconds"
}

cmd_status() {
  local pid out rc=0 cpid cout crc=0
  pid="$(our_pid)" || pid="-"
  out="$(probe)" || rc=1
  cpid="$(cassandra_pid)" || cpid="-"
  cout="$(cassandra_probe)" || crc=1
  printf '%-17s %-8s %-8s %-16s %s\n' SERVICE STATE PID ADDRESS DETAIL
  printf '%-17s %-8s %-8s %-16s %s\n' secure-kafka "$([[ $rc == 0 ]] && echo running || echo stopped)" "$pid" "$ADDR" "$out"
  printf '%-17s %-8s %-8s %-16s %s\n' secure-cassandra "$([[ $crc == 0 ]] && echo running || echo stopped)" "$cpid" "$CQL_ADDR" "$cout"
  return "$rc"
}

cmd_env() {
  [[ -f "$D/tls/ca.crt" ]] || die "not set up yet: run '$0 up'"
  cat <<EOF
DOCFLOW_KAFKA_BROKERS=$ADDR
DOCFLOW_KAFKA_SECURITY_PROTOCOL=SASL_SSL
DOCFLOW_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
DOCFLOW_KAFKA_SASL_USERNAME=docflow
DOCFLOW_KAFKA_SASL_PASSWORD_FILE=$D/secrets/docflow.password
DOCFLOW_KAFKA_TLS_CA_FILE=$D/tls/ca.crt
DOCFLOW_SCYLLA_NODES=$CQL_ADDR
DOCFLOW_SCYLLA_USER=docflow
DOCFLOW_SCYLLA_PASSWORD_FILE=$D/secrets/cassandra-docflow.password
DOCFLOW_SCYLLA_TLS_CA_FILE=$D/tls/ca.crt
EOF
}

LOCK="$D/.lock"

what="${2:-kafka}"
[[ "$what" =~ ^(kafka|cassandra|all)$ ]] || die "unknown service '$what' (kafka, cassandra or all)"
up_what() {
  case "$what" in
    kafka) cmd_up ;;
    cassandra) cassandra_up ;;
    all)
      # Cassandra boots slowest: start it first, Kafka meanwhile.
      make_secrets; make_certs
      cassandra_up & local c=$!
      cmd_up
      wait "$c" || die "cassandra did not come up"
      ;;
  esac
}
down_what() {
  if [[ "$what" != cassandra ]]; then cmd_down; fi
  if [[ "$what" != kafka ]]; then cassandra_down; fi
}
case "${1:-}" in
  up) with_lock "$LOCK" up_what ;;
  down) with_lock "$LOCK" down_what ;;
  status) cmd_status ;;
  env) cmd_env ;;
  reset)
    what=all; with_lock "$LOCK" down_what
    rm -rf "$D/data" "$D/tls" "$D/secrets" "$D/conf" "$D/started_at" "$D/ready_seconds" "$C/data" "$C/conf" "$C/started_at" "$C/ready_seconds"
    log "wiped $D and $C (logs kept)" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
