{{/* Names and labels only. */}}

{{- define "dmr.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dmr.fullname" -}}
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

{{/* Per-component names; the InferenceService name stays short because KServe appends "-predictor". */}}
{{- define "dmr.vllm.fullname" -}}
{{- printf "%s-vllm" (include "dmr.fullname" .) | trunc 45 | trimSuffix "-" }}
{{- end }}
{{- define "dmr.litellm.fullname" -}}
{{- printf "%s-litellm" (include "dmr.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "dmr.openwebui.fullname" -}}
{{- printf "%s-open-webui" (include "dmr.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{/* A volume's claim: the operator's own, or the one the chart makes; call with
(dict "ctx" $ "persistence" <its persistence values> "suffix" "runtime-adapters"). */}}
{{- define "dmr.claim" -}}
{{- .persistence.existingClaim | default (printf "%s-%s" (include "dmr.fullname" .ctx) .suffix) }}
{{- end }}
{{- define "dmr.runtimeAdapters.claim" -}}
{{- include "dmr.claim" (dict "ctx" . "persistence" .Values.runtimeAdapters.persistence "suffix" "runtime-adapters") }}
{{- end }}
{{- define "dmr.encoders.claim" -}}
{{- include "dmr.claim" (dict "ctx" . "persistence" .Values.router.encoders.persistence "suffix" "encoders") }}
{{- end }}
{{- define "dmr.review.claim" -}}
{{- include "dmr.claim" (dict "ctx" . "persistence" .Values.router.review.persistence "suffix" "review") }}
{{- end }}

{{/* A PersistentVolumeClaim the chart makes, unless the operator names their own; call with
(dict "ctx" $ "persistence" <values> "claim" <name> "component" "litellm"). */}}
{{- define "dmr.pvc" -}}
{{- if not .persistence.existingClaim }}
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ .claim }}
  labels:
    {{- include "dmr.labels" (dict "ctx" .ctx "component" .component) | nindent 4 }}
spec:
  accessModes: [{{ .persistence.accessMode | quote }}]
  {{- with .persistence.storageClassName }}
  storageClassName: {{ . }}
  {{- end }}
  resources:
    requests:
      storage: {{ .persistence.size }}
{{- end }}
{{- end }}

{{- define "dmr.routes.fullname" -}}
{{- printf "%s-routes" (include "dmr.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dmr.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dmr.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dmr.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Common labels; call with (dict "ctx" $ "component" "litellm"). */}}
{{- define "dmr.labels" -}}
helm.sh/chart: {{ include "dmr.chart" .ctx }}
{{ include "dmr.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: {{ include "dmr.name" .ctx }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component; call with (dict "ctx" $ "component" "litellm"). */}}
{{- define "dmr.componentSelectorLabels" -}}
{{ include "dmr.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
