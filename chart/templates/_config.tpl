{{/*
Configuration derived from .Values.adapters (the one list of adapters): vLLM's
arguments, LiteLLM's model list and fallbacks, and the routes the router may choose.
*/}}

{{/* Every model vLLM serves: the base model, then each adapter. Their names (and the virtual
model's) become vLLM model names, LiteLLM model groups and route targets: one shape for all. */}}
{{- define "dmr.servedModels" -}}
{{- include "dmr.validate.modelNames" . }}
{{- $served := list .Values.baseModel.name }}
{{- range .Values.adapters }}{{ $served = append $served .name }}{{ end }}
{{- toJson $served }}
{{- end }}

{{/* vLLM's --max-lora-rank: the smallest size vLLM accepts that fits the largest adapter. */}}
{{- define "dmr.maxLoraRank" -}}
{{- $max := 1 }}
{{- range .Values.adapters }}{{ $max = max $max (.rank | default 8 | int) }}{{ end }}
{{- if .Values.runtimeAdapters.enabled }}{{ $max = max $max (int .Values.runtimeAdapters.maxRank) }}{{ end }}
{{- include "dmr.validate.loraRank" $max }}
{{- $size := 0 }}
{{- range list 8 16 32 64 128 256 320 512 }}{{ if and (eq $size 0) (le $max .) }}{{ $size = . }}{{ end }}{{ end }}
{{- $size }}
{{- end }}

{{/* "true" when an adapter declares its own chat template (checked), else empty. */}}
{{- define "dmr.ownChatTemplates" -}}
{{- range $i, $adapter := .Values.adapters }}
{{- with $adapter.prompt }}{{ with .chat_template }}
{{- include "dmr.validate.chatTemplate" (dict "index" $i "name" $adapter.name "template" .) }}true
{{- end }}{{ end }}
{{- end }}
{{- end }}

{{- define "dmr.vllmArgs" -}}
- --port={{ include "dmr.vllm.port" . }}
- --model=/mnt/models
- --served-model-name={{ .Values.baseModel.name }}
- --max-model-len={{ .Values.vllm.maxModelLen }}
- --gpu-memory-utilization={{ .Values.vllm.gpuMemoryUtilization }}
- --chat-template=/etc/vllm/chat-template/template.jinja
{{- if and .Values.vllm.trustRequestChatTemplate (include "dmr.ownChatTemplates" .) }}
{{- /* Adapters with their own template get it with each request, from the proxy only. */}}
- --trust-request-chat-template
{{- end }}
{{- if or .Values.adapters .Values.runtimeAdapters.enabled }}
- --enable-lora
- --max-loras={{ .Values.runtimeAdapters.enabled | ternary (max (len .Values.adapters) (int .Values.runtimeAdapters.maxLoras)) (len .Values.adapters) }}
- --max-lora-rank={{ include "dmr.maxLoraRank" $ }}
{{- end }}
{{- with .Values.adapters }}
- --lora-modules
{{- range . }}
- {{ .name }}={{ .path | default (printf "/mnt/models/adapters/%s" .name) }}
{{- end }}
{{- end }}
{{- with .Values.vllm.extraArgs }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The routes file: litellm-configs/routes.yaml with the served models, and adapters' own utterances.
The adapter list decides which specialists exist: a bundled route to an adapter the list leaves
out is left out too (`adapters: [doctor]` has no dcot route), and every adapter in the list needs a
route (its utterances here, or the bundled file's route to it), unless it says `routed: false`.
*/}}
{{- define "dmr.routesFile" -}}
{{- $file := .Files.Get "files/routes.yaml" | fromYaml }}
{{- $served := include "dmr.servedModels" . | fromJsonArray }}
{{- $fromValues := dict }}
{{- range .Values.adapters }}{{ if .utterances }}{{ $_ := set $fromValues .name . }}{{ end }}{{ end }}
{{- $routes := list }}
{{- range $file.routes }}
{{- if and (not (hasKey $fromValues .model)) (has .model $served) }}
{{- $routes = append $routes . }}
{{- end }}
{{- end }}
{{- range $i, $adapter := .Values.adapters }}
{{- $routed := hasKey $fromValues $adapter.name }}
{{- range $routes }}{{ if eq .model $adapter.name }}{{ $routed = true }}{{ end }}{{ end }}
{{- if not (or $routed (eq (toString $adapter.routed) "false")) }}
{{- include "dmr.validate.adapterRouted" (dict "index" $i "name" $adapter.name) }}
{{- end }}
{{- end }}
{{- range .Values.adapters }}
{{- if .utterances }}
{{- $route := dict "name" .name "model" .name "utterances" .utterances }}
{{- with .description }}{{ $_ := set $route "description" . }}{{ end }}
{{- if hasKey . "threshold" }}{{ $_ := set $route "threshold" .threshold }}{{ end }}
{{- if hasKey . "miss_cost" }}{{ $_ := set $route "miss_cost" .miss_cost }}{{ end }}
{{- $routes = append $routes $route }}
{{- end }}
{{- end }}
{{- $_ := set $file "routes" $routes }}
{{- $prompts := dict }}
{{- $_ := include "dmr.ownChatTemplates" . }}
{{- range .Values.adapters }}{{ if .prompt }}{{ $_ := set $prompts .name .prompt }}{{ end }}{{ end }}
{{- with $prompts }}{{ $_ := set $file "prompts" . }}{{ end }}
{{- with .Values.router.encoder }}{{ $_ := set $file "encoder" . }}{{ end }}
{{- with .Values.router.candidate }}{{ $_ := set $file "candidate" . }}{{ end }}
{{- $_ := set $file "virtual_model" .Values.router.virtualModel }}
{{- $_ := set $file "default_model" .Values.baseModel.name }}
{{- toYaml $file }}
{{- end }}

{{/*
Each route's example, as JSON: [{route, model, message}], the message being the route's first
utterance. `helm test` sends each one through the proxy; Open WebUI suggests each on its first
screen.
*/}}
{{- define "dmr.routeExamples" -}}
{{- $examples := list }}
{{- range (include "dmr.routesFile" . | fromYaml).routes }}
{{- $examples = append $examples (dict "route" .name "model" .model "message" (first .utterances)) }}
{{- end }}
{{- toJson $examples }}
{{- end }}

{{/*
Open WebUI's prompt suggestions: one per route, its example in people's words, saying which
model answers it.
*/}}
{{- define "dmr.promptSuggestions" -}}
{{- $suggestions := list }}
{{- range (include "dmr.routeExamples" . | fromJsonArray) }}
{{- $answeredBy := eq .model $.Values.baseModel.name | ternary (printf "answered by %s, the base model" .model) (printf "answered by %s" .model) }}
{{- $suggestions = append $suggestions (dict "title" (list .message $answeredBy) "content" .message) }}
{{- end }}
{{- toJson $suggestions }}
{{- end }}

{{/* LiteLLM's proxy config: the virtual model, the base model and every adapter on vLLM. */}}
{{- define "dmr.litellmConfig" -}}
{{- $models := list .Values.router.virtualModel .Values.baseModel.name }}
{{- range .Values.adapters }}{{ $models = append $models .name }}{{ end }}
model_list:
{{- range $models }}
  - model_name: {{ . }}
    litellm_params:
      {{- /* The virtual model is backed by the base model, so it is listed and safe without the hook. */}}
      model: hosted_vllm/{{ eq . $.Values.router.virtualModel | ternary $.Values.baseModel.name . }}
      api_base: os.environ/VLLM_API_BASE
      api_key: os.environ/VLLM_API_KEY
{{- end }}
litellm_settings:
  # The request guards turn away what cannot be served before the router sees it.
  callbacks: ["dynamic_model_router.request.guards.proxy_guard_instance", "custom_router.proxy_handler_instance", "prometheus"]
  # Prompts and completions stay out of logs and callbacks unless litellm.debugLogging is on.
  turn_off_message_logging: {{ not .Values.litellm.debugLogging }}
router_settings:
  # All models live in one vLLM: when it cannot be reached, retrying cannot help, and LiteLLM's
  # retries with backoff kept a client waiting ~10 s for the error. It answers 503 at once
  # instead (request_guards' failure hook), with Retry-After; OpenAI clients retry 503 themselves.
  num_retries: 0
  # Each model is one deployment, so a cooldown has nowhere else to send its traffic: it only
  # turned one client's failed call (a 404 for an unknown previous_response_id) into 429s for
  # every user of that model for 5 s. Without it each request is tried on its own merits.
  disable_cooldowns: true
  fallbacks:
{{- range .Values.adapters }}
    - {{ .name }}: [{{ $.Values.baseModel.name }}]
{{- end }}
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
  custom_auth: dynamic_model_router.request.master_key_auth.user_api_key_auth
{{- end }}
