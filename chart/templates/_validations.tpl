{{/*
Every rule the values schema cannot express, in one place: each check fails the render with a
message that says what to change, and is included where the value it guards is used.
*/}}

{{/* A model name: the router's runtime adapters check the same (a test keeps the two equal). */}}
{{- define "dmr.modelNamePattern" -}}
^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$
{{- end }}

{{/* The base model, the virtual model and every adapter: valid, distinct names. */}}
{{- define "dmr.validate.modelNames" -}}
{{- $named := list (list "baseModel.name" .Values.baseModel.name) (list "router.virtualModel" .Values.router.virtualModel) }}
{{- range $i, $a := .Values.adapters }}{{ $named = append $named (list (printf "adapters[%d].name" $i) $a.name) }}{{ end }}
{{- range $named }}
{{- if not (regexMatch (include "dmr.modelNamePattern" $) (index . 1)) }}
{{- fail (printf "%s %q: a model name is lowercase letters, digits, '.', '_' and '-', starting and ending with a letter or digit" (index . 0) (index . 1)) }}
{{- end }}
{{- end }}
{{- $served := list .Values.baseModel.name }}
{{- range .Values.adapters }}
{{- if has .name $served }}
{{- fail (printf "adapters: %q is listed twice or is the base model's name; every served model needs its own name" .name) }}
{{- end }}
{{- $served = append $served .name }}
{{- end }}
{{- if has .Values.router.virtualModel $served }}
{{- fail (printf "router.virtualModel %q is also a served model; pick a name no model uses" .Values.router.virtualModel) }}
{{- end }}
{{- end }}

{{/* A LoRA rank vLLM can serve. Call with the largest rank. */}}
{{- define "dmr.validate.loraRank" -}}
{{- if gt (int .) 512 }}
{{- fail (printf "adapters: rank %d is larger than vLLM's largest --max-lora-rank (512); use an adapter of rank 512 or less" (int .)) }}
{{- end }}
{{- end }}

{{/* An adapter no route reaches. Call with (dict "index" $i "name" .name). */}}
{{- define "dmr.validate.adapterRouted" -}}
{{- fail (printf "adapters[%d] (%s) has no route: add its utterances (a few dozen messages in your users' words) to route requests to it, or set routed: false to serve it only to clients that name it" .index .name) }}
{{- end }}

{{/* An adapter's own chat template, as far as the chart can know (the router renders it, and
refuses it, when it loads the routes). Call with (dict "index" $i "name" .name "template" .). */}}
{{- define "dmr.validate.chatTemplate" -}}
{{- $where := printf "adapters[%d] (%s).prompt.chat_template" .index .name }}
{{- if not (contains "messages" .template) }}
{{- fail (printf "%s has no place for the question: it never reads messages, the conversation" $where) }}
{{- end }}
{{- range list (list "{%" "%}") (list "{{" "}}") (list "{#" "#}") }}
{{- if ne (len (splitList (index . 0) $.template)) (len (splitList (index . 1) $.template)) }}
{{- fail (printf "%s is not a valid Jinja template: its %s and %s do not pair up" $where (index . 0) (index . 1)) }}
{{- end }}
{{- end }}
{{- range list "for" "if" "macro" "raw" "filter" "call" }}
{{- if ne (len (regexFindAll (printf "\\{%%[-+]?\\s*%s\\b" .) $.template -1)) (len (regexFindAll (printf "\\{%%[-+]?\\s*end%s\\b" .) $.template -1)) }}
{{- fail (printf "%s is not a valid Jinja template: a {%% %s %%} block is not closed by {%% end%s %%}, or the other way round" $where . .) }}
{{- end }}
{{- end }}
{{- end }}

{{/* An image reference: a digest of the right shape, or at least a tag. Call like dmr.image. */}}
{{- define "dmr.validate.image" -}}
{{- if .image.digest }}
{{- if not (regexMatch "^sha256:[a-f0-9]{64}$" .image.digest) }}
{{- fail (printf "%s.digest must be sha256: and 64 lowercase hex digits, got %q" .path .image.digest) }}
{{- end }}
{{- else if not .image.tag }}
{{- fail (printf "%s: set digest (preferred) or tag" .path) }}
{{- end }}
{{- end }}

{{/* vLLM must keep an idle connection longer than the proxy reuses one (LiteLLM's aiohttp
keep-alive, AIOHTTP_KEEPALIVE_TIMEOUT, 15 s; a chart test reads it from the installed LiteLLM). */}}
{{- define "dmr.validate.vllmKeepAlive" -}}
{{- $seconds := .Values.vllm.keepAliveSeconds }}
{{- if or (le (float64 $seconds) 15.0) (ne (float64 $seconds) (float64 (int64 $seconds))) }}
{{- fail (printf "vllm.keepAliveSeconds %v: a whole number above 15, the proxy's own keep-alive; vLLM must not close a connection the proxy may still reuse (a request sent on it fails and the base model answers instead)" $seconds) }}
{{- end }}
{{- end }}

{{- define "dmr.validate.router" -}}
{{- if not (has .Values.router.logLevel (list "DEBUG" "INFO" "WARNING" "ERROR")) }}
{{- fail (printf "router.logLevel %q: one of DEBUG, INFO, WARNING, ERROR" .Values.router.logLevel) }}
{{- end }}
{{- $requests := .Values.litellm.requests }}
{{- range $name, $value := dict "maxChoices" $requests.maxChoices "structuredOutputs.maxBytes" $requests.structuredOutputs.maxBytes }}
{{- if or (lt (float64 $value) 1.0) (ne (float64 $value) (float64 (int64 $value))) }}
{{- fail (printf "litellm.requests.%s %v: a whole number of 1 or more" $name $value) }}
{{- end }}
{{- end }}
{{- end }}

{{- define "dmr.validate.vllm" -}}
{{- if not (regexMatch "^(oci|pvc|s3|gs|https?|hf)://.+" .Values.baseModel.storageUri) }}
{{- fail (printf "baseModel.storageUri %q: use oci://<image> (a modelcar), pvc://<claim>/<path>, s3://, gs://, https:// or hf://" .Values.baseModel.storageUri) }}
{{- end }}
{{- if lt (int .Values.vllm.replicas) 1 }}
{{- fail "vllm.replicas must be 1 or more: without a vLLM pod nothing answers" }}
{{- end }}
{{- end }}

{{/* Runtime adapters are loaded into one vLLM pod, whichever volume holds them. */}}
{{- define "dmr.validate.runtimeAdapters" -}}
{{- if ne (int .Values.vllm.replicas) 1 }}
{{- fail "runtimeAdapters.enabled needs vllm.replicas 1: the proxy loads each adapter through vLLM's Service, which reaches one pod" }}
{{- end }}
{{- end }}

{{/* A Secret the chart would generate. Call with (dict "ctx" $ "path" "litellm.existingSecret"). */}}
{{- define "dmr.validate.generatedSecret" -}}
{{- if not .ctx.Values.secrets.generate }}
{{- fail (printf "%s is empty but secrets.generate is false: under helm template (Argo CD, Flux) a generated key would change on every render; create the Secret yourself and name it in %s (docs/deploying.md, \"Secrets and GitOps\")" .path .path) }}
{{- end }}
{{- end }}
