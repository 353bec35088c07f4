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
