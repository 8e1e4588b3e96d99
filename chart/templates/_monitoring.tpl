{{/*
Monitoring objects are rendered only where the cluster serves the Prometheus Operator's kind;
call with (dict "ctx" $ "kind" "PodMonitor"). "true" or "".
*/}}
{{- define "dmr.monitoring.has" -}}
{{- if and .ctx.Values.monitoring.enabled (.ctx.Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" .kind)) -}}
true
{{- end }}
{{- end }}

{{/* The NetworkPolicy peer of the monitoring Prometheus: its pods, in its namespace, no one else. */}}
{{- define "dmr.monitoring.peer" -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .Values.monitoring.prometheusNamespace }}
  podSelector:
    matchLabels:
      {{- toYaml .Values.monitoring.prometheusPodLabels | nindent 6 }}
{{- end }}

{{/* The `job` label the Prometheus Operator gives vLLM's PodMonitor targets: <namespace>/<name>. */}}
{{- define "dmr.vllm.metricsJob" -}}
{{ .Release.Namespace }}/{{ include "dmr.vllm.fullname" . }}
{{- end }}
