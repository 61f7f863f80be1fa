#!/usr/bin/env bash
# A Flink standalone session cluster on this machine, from the jars that `mvn package` puts into
# cluster-it/target/flink/lib (Flink 2.3.0 from Maven Central, log4j, and the native jars of the cluster recipe:
# Bytedeco pytorch/openblas/javacpp and ONNX Runtime, loaded parent-first). No Flink distribution is needed; this is
# what cluster-it's FlinkClusterIT runs in `mvn verify`.
#
#   scripts/flink-local-cluster.sh start            JobManager + one TaskManager (REST / Web UI on localhost:$PORT)
#   scripts/flink-local-cluster.sh submit ARGS...   `flink run` of the job jar with StreamingJob's ARGS, e.g.
#                                                   submit --dataset synthetic --output-dir /tmp/pml4j-cluster-out
#   scripts/flink-local-cluster.sh stop
#
# Environment: PML4J_CLUSTER_DIR (state, logs; default /tmp/pml4j-flink-cluster), PML4J_CLUSTER_PORT (REST port,
# default 8081), PML4J_CLUSTER_SLOTS (default 2), PML4J_CLUSTER_PARENT_FIRST=0 to leave out the parent-first pattern
# (to see the native-library failure of a second job; do not use it otherwise).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lib="$root/cluster-it/target/flink/lib"
job="$root/cluster-it/target/flink/pml4j-job.jar"
dir="${PML4J_CLUSTER_DIR:-/tmp/pml4j-flink-cluster}"
port="${PML4J_CLUSTER_PORT:-8081}"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
opts=(--add-exports=java.base/sun.net.util=ALL-UNNAMED --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED
  --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.text=ALL-UNNAMED
  --add-opens=java.base/java.time=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED)

need_build() {
  if [ ! -d "$lib" ] || [ ! -f "$job" ]; then
    echo "flink-local-cluster: $lib or $job missing; building (mvn -DskipTests package -pl cluster-it -am)" >&2
    (cd "$root" && mvn -B -q -DskipTests package -pl cluster-it -am)
  fi
}

params() { # BashJavaUtils GET_JM_RESOURCE_PARAMS|GET_TM_RESOURCE_PARAMS -> line N of its result
  "$java" -cp "$lib/*" org.apache.flink.runtime.util.bash.BashJavaUtils "$1" --configDir "$dir/conf" \
    | grep '^BASH_JAVA_UTILS_EXEC_RESULT:' | sed -n "${2}p" | sed 's/^BASH_JAVA_UTILS_EXEC_RESULT://'
}

launch() { # name main-class
  local name="$1" main="$2" kind jvm dyn
  kind=$([ "$name" = jobmanager ] && echo GET_JM_RESOURCE_PARAMS || echo GET_TM_RESOURCE_PARAMS)
  jvm="$(params "$kind" 1)"
  dyn="$(params "$kind" 2)"
  # shellcheck disable=SC2086 # the JVM options and dynamic configs are whitespace-separated lists
  nohup "$java" $jvm "${opts[@]}" -Dlog.file="$dir/log/$name.log" \
    -Dlog4j.configurationFile="file://$dir/conf/log4j.properties" -cp "$lib/*" "$main" --configDir "$dir/conf" \
    $dyn > "$dir/log/$name.out" 2>&1 &
  echo $! > "$dir/$name.pid"
}

case "${1:-}" in
  start)
    need_build
    mkdir -p "$dir/conf" "$dir/log"
    {
      echo "jobmanager.rpc.address: localhost"
      echo "jobmanager.bind-host: localhost"
      echo "jobmanager.memory.process.size: 1024m"
      echo "taskmanager.bind-host: localhost"
      echo "taskmanager.host: localhost"
      echo "taskmanager.memory.process.size: 1728m"
      echo "taskmanager.numberOfTaskSlots: ${PML4J_CLUSTER_SLOTS:-2}"
      echo "rest.address: localhost"
      echo "rest.bind-address: localhost"
      echo "rest.port: $port"
      if [ "${PML4J_CLUSTER_PARENT_FIRST:-1}" != 0 ]; then
        echo "classloader.parent-first-patterns.additional: org.bytedeco.;ai.onnxruntime."
      fi
    } > "$dir/conf/config.yaml"
    printf '%s\n' "rootLogger.level = INFO" "rootLogger.appenderRef.file.ref = F" "appender.file.name = F" \
      "appender.file.type = FILE" "appender.file.fileName = \${sys:log.file}" "appender.file.layout.type = PatternLayout" \
      "appender.file.layout.pattern = %d{HH:mm:ss,SSS} %-5p %-40c{1} - %m%n" > "$dir/conf/log4j.properties"
    launch jobmanager org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint
    for _ in $(seq 1 120); do curl -sf "http://localhost:$port/overview" > /dev/null && break; sleep 0.5; done
    launch taskmanager org.apache.flink.runtime.taskexecutor.TaskManagerRunner
    for _ in $(seq 1 120); do
      curl -sf "http://localhost:$port/overview" | grep -q '"taskmanagers":1' && break; sleep 0.5
    done
    curl -sf "http://localhost:$port/overview" | grep -q '"taskmanagers":1' \
      || { echo "flink-local-cluster: the TaskManager did not register; see $dir/log" >&2; exit 1; }
    echo "flink-local-cluster: running, Web UI http://localhost:$port, logs in $dir/log"
    ;;
  submit)
    shift
    need_build
    FLINK_CONF_DIR="$dir/conf" "$java" "${opts[@]}" -Dlog.file="$dir/log/client.log" \
      -Dlog4j.configurationFile="file://$dir/conf/log4j.properties" -cp "$lib/*" \
      org.apache.flink.client.cli.CliFrontend run "$job" "$@"
    ;;
  stop)
    for name in taskmanager jobmanager; do
      if [ -f "$dir/$name.pid" ]; then
        kill "$(cat "$dir/$name.pid")" 2> /dev/null || true
        rm -f "$dir/$name.pid"
      fi
    done
    echo "flink-local-cluster: stopped"
    ;;
  *)
    sed -n '2,15p' "$0"
    exit 2
    ;;
esac
