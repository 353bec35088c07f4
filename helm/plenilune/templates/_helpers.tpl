{{/* Names */}}
{{- define "plenilune.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "plenilune.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "plenilune.nameserver.fullname" -}}
{{- printf "%s-nameserver" (include "plenilune.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "plenilune.blockstore.fullname" -}}
{{- printf "%s-blockstore" (include "plenilune.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "plenilune.gateway.fullname" -}}
{{- printf "%s-gateway" (include "plenilune.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "plenilune.redis.fullname" -}}
{{- printf "%s-redis" (include "plenilune.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels */}}
{{- define "plenilune.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "plenilune.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "plenilune.selectorLabels" -}}
app.kubernetes.io/name: {{ include "plenilune.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "plenilune.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The cluster secret */}}
{{- define "plenilune.secretName" -}}
{{- default (printf "%s-cluster-secret" (include "plenilune.fullname" .)) .Values.clusterSecret.existingSecret }}
{{- end }}

{{- define "plenilune.clusterSecretEnv" -}}
- name: PLEN_CLUSTER_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "plenilune.secretName" . }}
      key: {{ .Values.clusterSecret.key }}
{{- end }}

{{/* The root user's credentials: the nameserver's and the gateway's (the same pair) */}}
{{- define "plenilune.rootSecretName" -}}
{{- default (printf "%s-root-credentials" (include "plenilune.fullname" .)) .Values.gateway.rootCredentials.existingSecret }}
{{- end }}

{{- define "plenilune.rootCredentialsEnv" -}}
{{- $c := .Values.gateway.rootCredentials }}
- name: PLEN_ROOT_USER
  valueFrom:
    secretKeyRef:
      name: {{ include "plenilune.rootSecretName" . }}
      key: {{ $c.userKey }}
- name: PLEN_ROOT_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "plenilune.rootSecretName" . }}
      key: {{ $c.passwordKey }}
{{- end }}

{{/* Blockstore pods: spread over zones, then over nodes. */}}
{{- define "plenilune.blockstore.spread" -}}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: {{ .Values.blockstore.zoneSpread.whenUnsatisfiable }}
  labelSelector:
    matchLabels:
      {{- include "plenilune.selectorLabels" . | nindent 6 }}
      app.kubernetes.io/component: blockstore
# Two replicas of a block on one node would fall together: spread over nodes too.
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "plenilune.selectorLabels" . | nindent 6 }}
      app.kubernetes.io/component: blockstore
{{- end }}

{{/* PLEN_REDIS_URL: embedded Redis, a Secret, or the plain URL */}}
{{- define "plenilune.redisUrlEnv" -}}
- name: PLEN_REDIS_URL
{{- if .Values.redis.embedded.enabled }}
  value: {{ printf "redis://%s:6379/0" (include "plenilune.redis.fullname" .) | quote }}
{{- else if .Values.redis.existingSecret }}
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.existingSecretKey }}
{{- else }}
  value: {{ required "redis.url is required (or enable redis.embedded)" .Values.redis.url | quote }}
{{- end }}
{{- end }}

{{- define "plenilune.nameserverUrl" -}}
{{- printf "http://%s:%v" (include "plenilune.nameserver.fullname" .) .Values.nameserver.service.port }}
{{- end }}
