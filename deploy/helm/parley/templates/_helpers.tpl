{{/* Names and labels. */}}
{{- define "parley.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "parley.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object; call with (dict "root" $ "component" "chat"). */}}
{{- define "parley.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: parley
{{ include "parley.selectorLabels" . }}
{{- end -}}

{{- define "parley.selectorLabels" -}}
app.kubernetes.io/name: {{ include "parley.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "parley.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "parley.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "parley.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/*
Sizing from MAX_CONNECTIONS: memory (request = limit, in Mi) is the idle instance plus
perConnectionKiB per connection; V8's old generation is capped at heapPercent of it.
*/}}
{{- define "parley.chat.memoryMi" -}}
{{- $m := .Values.chat.memory -}}
{{- add $m.baseMi (div (add (mul .Values.chat.maxConnections $m.perConnectionKiB) 1023) 1024) -}}
{{- end -}}

{{- define "parley.chat.heapMi" -}}
{{- div (mul (include "parley.chat.memoryMi" . | int) .Values.chat.memory.heapPercent) 100 -}}
{{- end -}}

{{/*
Seconds a drain takes at MAX_CONNECTIONS (src/realtime/drain.ts): DRAIN_GRACE_MS, then one batch
of DRAIN_BATCH sockets every DRAIN_INTERVAL_MS (no pause after the last), then up to 5 s for the
clients' close handshakes; rounded up.
*/}}
{{- define "parley.chat.drainSeconds" -}}
{{- $d := .Values.chat.drain -}}
{{- $batches := div (add .Values.chat.maxConnections (sub $d.batch 1)) $d.batch -}}
{{- $ms := add $d.graceMs (mul (sub $batches 1) $d.intervalMs) 5000 -}}
{{- div (add $ms 999) 1000 -}}
{{- end -}}

{{/* preStop + drain + 10 s to close the stores and exit; an override below that is refused. */}}
{{- define "parley.chat.terminationGracePeriodSeconds" -}}
{{- $least := add .Values.chat.preStopSeconds (include "parley.chat.drainSeconds" . | int) 10 -}}
{{- with .Values.chat.terminationGracePeriodSeconds -}}{{/* 0: computed */}}
{{- if lt (int .) (int $least) -}}
{{- fail (printf "chat.terminationGracePeriodSeconds: %d is shorter than the drain needs (%d s: preStopSeconds + DRAIN_GRACE_MS + %d batches at MAX_CONNECTIONS + close handshakes + 10 s)" (int .) (int $least) (int (div (add $.Values.chat.maxConnections (sub $.Values.chat.drain.batch 1)) $.Values.chat.drain.batch))) -}}
{{- end -}}
{{- int . -}}
{{- else -}}
{{- $least -}}
{{- end -}}
{{- end -}}

{{/* OPS_PORT of the chat instances (container port `ops`); refused if it is not a port or is PORT (8080). */}}
{{- define "parley.chat.opsPort" -}}
{{- $p := .Values.chat.opsPort | int -}}
{{- if or (lt $p 1) (gt $p 65535) (eq $p 8080) -}}
{{- fail (printf "chat.opsPort: %v is not a port other than 8080 (the instances' PORT); the probes and the ServiceMonitor use it" .Values.chat.opsPort) -}}
{{- end -}}
{{- $p -}}
{{- end -}}

{{/* Average open connections per instance the autoscaler aims at. */}}
{{- define "parley.chat.targetConnections" -}}
{{- div (mul .Values.chat.maxConnections .Values.autoscaling.targetConnectionsPercent) 100 -}}
{{- end -}}

{{- define "parley.jwtSecretName" -}}
{{- .Values.jwt.existingSecret | default (printf "%s-jwt" (include "parley.fullname" .)) -}}
{{- end -}}

{{- define "parley.mongoEnabled" -}}
{{- if or .Values.mongo.url .Values.mongo.existingSecret -}}true{{- end -}}
{{- end -}}

{{/* The environment every process shares: Redis, MongoDB, heartbeat, log level. */}}
{{- define "parley.backendEnv" -}}
{{- if not .Values.redis.clusterNodes -}}
{{- fail "redis.clusterNodes: required (REDIS_CLUSTER_NODES, host:port,host:port,… of the Redis Cluster); instances on the embedded memory stores would not share rooms" -}}
{{- end -}}
- name: REDIS_CLUSTER_NODES
  value: {{ .Values.redis.clusterNodes | quote }}
{{- if .Values.mongo.existingSecret }}
- name: MONGO_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.mongo.existingSecret }}
      key: {{ .Values.mongo.existingSecretKey }}
{{- else if .Values.mongo.url }}
- name: MONGO_URL
  value: {{ .Values.mongo.url | quote }}
{{- end }}
- name: HEARTBEAT_MS
  value: {{ .Values.chat.heartbeatMs | int | quote }}
- name: LOG_LEVEL
  value: {{ .Values.chat.logLevel | quote }}
{{- end -}}

{{/* Extra environment from a map (values quoted: every setting is read as a string). */}}
{{- define "parley.extraEnv" -}}
{{- range $k, $v := . }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- end -}}
