{{/*
An image reference from {repository, digest, tag}: repository@digest when a digest is given (it
wins), else repository:tag. Call with (dict "image" .Values.x.image "path" "x.image").
*/}}
{{- define "dmr.image" -}}
{{- $image := .image }}
{{- if $image.digest }}
{{- if not (regexMatch "^sha256:[a-f0-9]{64}$" $image.digest) }}
{{- fail (printf "%s.digest must be sha256: and 64 lowercase hex digits, got %q" .path $image.digest) }}
{{- end }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else if $image.tag }}
{{- printf "%s:%s" $image.repository $image.tag }}
{{- else }}
{{- fail (printf "%s: set digest (preferred) or tag" .path) }}
{{- end }}
{{- end }}
