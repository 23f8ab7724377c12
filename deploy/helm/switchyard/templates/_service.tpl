{{/* A role's Service; call with (dict "ctx" $ "component" "gateway" "s" .Values.gateway.service). */}}
{{- define "switchyard.service" -}}
{{- $sel := dict "ctx" .ctx "component" .component -}}
{{- $s := .s -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "switchyard.fullname" .ctx }}-{{ .component }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "switchyard.componentLabels" $sel | nindent 4 }}
    # What the ServiceMonitor selects, and the Prometheus job name it gives the targets.
    switchyard.io/job: switchyard-{{ .component }}
    {{- with $s.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $s.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $s.type }}
  selector:
    {{- include "switchyard.selectorLabels" $sel | nindent 4 }}
  ports:
    - name: http
      port: {{ $s.port }}
      targetPort: http
      protocol: TCP
      {{- if and (has $s.type (list "NodePort" "LoadBalancer")) $s.nodePort }}
      nodePort: {{ $s.nodePort }}
      {{- end }}
  {{- if has $s.type (list "NodePort" "LoadBalancer") }}
  {{- with $s.externalTrafficPolicy }}
  externalTrafficPolicy: {{ . }}
  {{- end }}
  {{- end }}
  {{- if eq $s.type "LoadBalancer" }}
  {{- with $s.loadBalancerClass }}
  loadBalancerClass: {{ . }}
  {{- end }}
  {{- with $s.loadBalancerSourceRanges }}
  loadBalancerSourceRanges:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- end }}
{{- end -}}
