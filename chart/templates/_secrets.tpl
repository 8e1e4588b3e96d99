{{/*
A secret value that survives upgrades: the one already in the Secret if there is one
(`lookup`), a new random one otherwise. `lookup` is empty under `helm template`.
Call with (dict "ctx" $ "name" "<secret>" "key" "<key>" "prefix" "sk-").
*/}}
{{- define "dmr.secretValue" -}}
{{- $existing := lookup "v1" "Secret" .ctx.Release.Namespace .name }}
{{- if and $existing $existing.data (hasKey $existing.data .key) }}
{{- index $existing.data .key }}
{{- else }}
{{- printf "%s%s" (.prefix | default "") (randAlphaNum 40) | b64enc }}
{{- end }}
{{- end }}

{{- define "dmr.litellm.secretName" -}}
{{- .Values.litellm.existingSecret | default (include "dmr.litellm.fullname" .) }}
{{- end }}

{{- define "dmr.openwebui.secretName" -}}
{{- .Values.openWebui.existingSecret | default (include "dmr.openwebui.fullname" .) }}
{{- end }}
