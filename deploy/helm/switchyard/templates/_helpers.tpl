{{/*
Names. The full name is cut to 35 characters (not the usual 63): a gateway pod's name is its
Switchyard node id (SWITCHYARD_NODE_ID, from the downward API), and with --threads N each
thread is node "<pod name>-<i>", which must stay within the node id's 63 characters. The
gateway Deployment is "<full name>-gateway" (at most 43), so its ReplicaSet is at most 54
characters, its pods at most 60, and a thread's node id at most 63.
*/}}
{{- define "switchyard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 35 | trimSuffix "-" -}}
{{- end -}}

{{- define "switchyard.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 35 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 35 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 35 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Object names, one per component. */}}
{{- define "switchyard.gateway.fullname" -}}{{ include "switchyard.fullname" . }}-gateway{{- end -}}
{{- define "switchyard.controlApi.fullname" -}}{{ include "switchyard.fullname" . }}-control-api{{- end -}}
{{- define "switchyard.nats.fullname" -}}{{ include "switchyard.fullname" . }}-nats{{- end -}}
{{- define "switchyard.config.fullname" -}}{{ include "switchyard.fullname" . }}-config{{- end -}}

{{- define "switchyard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object: the recommended app.kubernetes.io set plus commonLabels. */}}
{{- define "switchyard.labels" -}}
helm.sh/chart: {{ include "switchyard.chart" . }}
app.kubernetes.io/name: {{ include "switchyard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "switchyard.imageTag" . | replace "+" "_" | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: switchyard
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of one component; call with (dict "ctx" $ "component" "gateway"). */}}
{{- define "switchyard.componentLabels" -}}
{{ include "switchyard.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Selector labels of one component (stable across upgrades: never add to them). */}}
{{- define "switchyard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "switchyard.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "switchyard.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion | toString -}}
{{- end -}}

{{- define "switchyard.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (include "switchyard.imageTag" .) -}}
{{- end -}}
{{- end -}}

{{- define "switchyard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "switchyard.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Generated secrets. A value the chart must invent (the tenants file when none is given, the
NATS password of the bundled NATS) is made once per render and remembered in .Values, so the
Secret and the pods' checksum annotation see the same bytes; on `helm upgrade` the value
already in the cluster is read back (lookup), so it stays the same and the pods do not roll.
`helm template` has no cluster: it invents new ones each time.
*/}}
{{- define "switchyard.existingSecretValue" -}}
{{- $s := lookup "v1" "Secret" .ctx.Release.Namespace .name -}}
{{- if and $s $s.data (hasKey $s.data .key) -}}
{{- index $s.data .key | b64dec -}}
{{- end -}}
{{- end -}}

{{/* Secret holding the tenants file, and the key in it. */}}
{{- define "switchyard.tenants.secretName" -}}
{{- .Values.tenants.existingSecret | default (printf "%s-tenants" (include "switchyard.fullname" .)) -}}
{{- end -}}
{{- define "switchyard.tenants.secretKey" -}}
{{- if .Values.tenants.existingSecret -}}{{ .Values.tenants.existingSecretKey }}{{- else -}}tenants.json{{- end -}}
{{- end -}}

{{/* Whether the chart invents the tenants file (no existingSecret, config or json given). */}}
{{- define "switchyard.tenants.generated" -}}
{{- if not (or .Values.tenants.existingSecret .Values.tenants.config .Values.tenants.json) -}}true{{- end -}}
{{- end -}}

{{/* The tenants file (JSON text) the chart puts in its Secret. */}}
{{- define "switchyard.tenants.json" -}}
{{- if .Values.tenants.config -}}
{{- toPrettyJson .Values.tenants.config -}}
{{- else if .Values.tenants.json -}}
{{- .Values.tenants.json -}}
{{- else -}}
{{- if not (hasKey .Values.tenants "__generated") -}}
{{- $kept := include "switchyard.existingSecretValue" (dict "ctx" . "name" (include "switchyard.tenants.secretName" .) "key" "tenants.json") -}}
{{- if $kept -}}
{{- $_ := set .Values.tenants "__generated" $kept -}}
{{- else -}}
{{- $demo := dict "secret" (randAlphaNum 32) "postSecret" (randAlphaNum 32) "backendSecret" (randAlphaNum 32) -}}
{{- $_ := set .Values.tenants "__generated" (toPrettyJson (dict "adminToken" (randAlphaNum 32) "tenants" (dict "demo" $demo))) -}}
{{- end -}}
{{- end -}}
{{- index .Values.tenants "__generated" -}}
{{- end -}}
{{- end -}}

{{/*
What the tenants checksum covers: the file itself when the chart renders it; with an existing
Secret, which Secret and key (the chart cannot see its content: name a new Secret, e.g.
tenants-v2, to roll the pods, or restart them).
*/}}
{{- define "switchyard.tenants.checksum" -}}
{{- if .Values.tenants.existingSecret -}}
{{- printf "existing:%s/%s" .Values.tenants.existingSecret .Values.tenants.existingSecretKey | sha256sum -}}
{{- else -}}
{{- include "switchyard.tenants.json" . | sha256sum -}}
{{- end -}}
{{- end -}}

{{/* NATS credentials: the Secret, its keys, and whether the chart owns it. */}}
{{- define "switchyard.natsAuth.secretName" -}}
{{- .Values.nats.auth.existingSecret | default (printf "%s-nats-auth" (include "switchyard.fullname" .)) -}}
{{- end -}}
{{- define "switchyard.natsAuth.userKey" -}}
{{- if .Values.nats.auth.existingSecret -}}{{ .Values.nats.auth.userKey }}{{- else -}}user{{- end -}}
{{- end -}}
{{- define "switchyard.natsAuth.passwordKey" -}}
{{- if .Values.nats.auth.existingSecret -}}{{ .Values.nats.auth.passwordKey }}{{- else -}}password{{- end -}}
{{- end -}}

{{/* The NATS password the chart puts in its Secret (given, kept from the cluster, or invented). */}}
{{- define "switchyard.natsAuth.password" -}}
{{- if .Values.nats.auth.password -}}
{{- .Values.nats.auth.password -}}
{{- else -}}
{{- if not (hasKey .Values.nats.auth "__generated") -}}
{{- $kept := include "switchyard.existingSecretValue" (dict "ctx" . "name" (include "switchyard.natsAuth.secretName" .) "key" "password") -}}
{{- $_ := set .Values.nats.auth "__generated" ($kept | default (randAlphaNum 32)) -}}
{{- end -}}
{{- index .Values.nats.auth "__generated" -}}
{{- end -}}
{{- end -}}

{{- define "switchyard.natsAuth.checksum" -}}
{{- if not .Values.nats.auth.enabled -}}
{{- "none" | sha256sum -}}
{{- else if .Values.nats.auth.existingSecret -}}
{{- printf "existing:%s/%s/%s" .Values.nats.auth.existingSecret .Values.nats.auth.userKey .Values.nats.auth.passwordKey | sha256sum -}}
{{- else -}}
{{- printf "%s\n%s" .Values.nats.auth.user (include "switchyard.natsAuth.password" .) | sha256sum -}}
{{- end -}}
{{- end -}}

{{/* The NATS URL(s) Switchyard connects to. */}}
{{- define "switchyard.nats.url" -}}
{{- if .Values.nats.deploy -}}
{{- printf "nats://%s:%d" (include "switchyard.nats.fullname" .) (int .Values.nats.service.port) -}}
{{- else -}}
{{- .Values.nats.url -}}
{{- end -}}
{{- end -}}

{{/* JetStream replicas of each history stream: the bundled cluster's size, or nats.streamReplicas. */}}
{{- define "switchyard.nats.streamReplicas" -}}
{{- if .Values.nats.deploy -}}{{ .Values.nats.replicas | int }}{{- else -}}{{ .Values.nats.streamReplicas | int }}{{- end -}}
{{- end -}}

{{/* The control API as backends inside the cluster reach it (default of SWITCHYARD_PUBLIC_URL). */}}
{{- define "switchyard.controlApi.url" -}}
{{- printf "http://%s.%s.svc:%d" (include "switchyard.controlApi.fullname" .) .Release.Namespace (int .Values.controlApi.service.port) -}}
{{- end -}}

{{/*
terminationGracePeriodSeconds of a role: as given, or preStop sleep + drain delay + drain
window + margin. Call with (dict "v" .Values.gateway).
*/}}
{{- define "switchyard.gracePeriod" -}}
{{- $v := .v -}}
{{- $needed := add (int $v.preStopSleepSeconds) (int $v.drain.delaySeconds) (int ($v.drain.seconds | default 0)) -}}
{{- if kindIs "invalid" $v.terminationGracePeriodSeconds -}}
{{- add $needed (int $v.drain.marginSeconds) -}}
{{- else -}}
{{- $v.terminationGracePeriodSeconds | int -}}
{{- end -}}
{{- end -}}

{{/* topologySpreadConstraints with the component's pods as the default labelSelector. */}}
{{- define "switchyard.topologySpread" -}}
{{- $sel := include "switchyard.selectorLabels" (dict "ctx" .ctx "component" .component) | fromYaml -}}
{{- range .constraints }}
- {{ toYaml (merge (deepCopy .) (dict "labelSelector" (dict "matchLabels" $sel))) | nindent 2 | trim }}
{{- end }}
{{- end -}}
