{{/*
Ports, each defined once. vLLM's is OpenShift AI's own vLLM runtime's; LiteLLM calls the pods on
it through the chart's Service (vllm-service.yaml): KServe's `<isvc>-predictor` Service is
headless by default from OpenShift AI 2.19 (only the pod port answers) and has only port 80
otherwise, so no one URL through it works on every cluster.
*/}}
{{- define "dmr.vllm.port" -}}8080{{- end }}
{{- define "dmr.litellm.port" -}}4000{{- end }}
{{- define "dmr.openwebui.port" -}}8080{{- end }}

{{/* In-cluster base URLs of the OpenAI-compatible APIs. */}}
{{- define "dmr.vllm.url" -}}
http://{{ include "dmr.vllm.fullname" . }}-api.{{ .Release.Namespace }}.svc:{{ include "dmr.vllm.port" . }}/v1
{{- end }}
{{- define "dmr.litellm.url" -}}
http://{{ include "dmr.litellm.fullname" . }}:{{ include "dmr.litellm.port" . }}/v1
{{- end }}
