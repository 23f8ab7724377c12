{{/*
The bundled nats-server's configuration file. It holds nothing secret and nothing per pod:
the server name (the pod's) and the credentials (from their Secret) are given on the command
line (see nats.yaml), where the kubelet substitutes them verbatim; nats-server would parse a
`$VAR` reference here as configuration text, so a password such as "1e5x" would not load.
*/}}
{{- define "switchyard.nats.conf" -}}
{{- $name := include "switchyard.nats.fullname" . -}}
{{- $n := .Values.nats -}}
listen: 0.0.0.0:4222
http_port: 8222
pid_file: /var/run/nats/nats.pid
# On preStop the server enters lame-duck mode: it stops accepting clients and closes the
# ones it has over lame_duck_duration; they reconnect to the other servers.
lame_duck_grace_period: 10s
lame_duck_duration: 30s
jetstream {
  store_dir: /data
  {{- with $n.jetstream.maxMemoryStore }}
  max_memory_store: {{ . }}
  {{- end }}
  {{- with $n.jetstream.maxFileStore }}
  max_file_store: {{ . }}
  {{- end }}
}
{{- if gt (int $n.replicas) 1 }}
cluster {
  name: {{ $name | quote }}
  listen: 0.0.0.0:6222
  routes: [
    {{- range $i := until (int $n.replicas) }}
    nats://{{ $name }}-{{ $i }}.{{ $name }}-headless.{{ $.Release.Namespace }}.svc:6222
    {{- end }}
  ]
}
{{- end }}
{{- end -}}
