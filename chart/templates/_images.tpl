{{/*
An image reference from {repository, digest, tag}: repository@digest when a digest is given (it
wins), else repository:tag. Call with (dict "image" .Values.x.image "path" "x.image").
*/}}
{{- define "dmr.image" -}}
{{- include "dmr.validate.image" . }}
{{- $image := .image }}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository $image.tag }}
{{- end }}
{{- end }}
