{{/*
One Switchyard role as a Deployment. Both roles run the same image with its ENTRYPOINT
(the `switchyard` CLI) and `args: [<role>]`, and take every setting from SWITCHYARD_*
variables: the shared ones from the ConfigMap (envFrom), the per-pod and per-role ones
from `env`, secrets only through secretKeyRef or the mounted tenants Secret.

Call with (dict "ctx" $ "role" "gateway" "component" "gateway" "v" .Values.gateway).
*/}}
{{- define "switchyard.deployment" -}}
{{- $ctx := .ctx -}}
{{- $v := .v -}}
{{- $component := .component -}}
{{- $sel := dict "ctx" $ctx "component" $component -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "switchyard.fullname" $ctx }}-{{ $component }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "switchyard.componentLabels" $sel | nindent 4 }}
  {{- with $v.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- if not $v.autoscaling.enabled }}
  replicas: {{ $v.replicas }}
  {{- end }}
  revisionHistoryLimit: {{ $v.revisionHistoryLimit }}
  {{- with $v.minReadySeconds }}
  minReadySeconds: {{ . }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "switchyard.selectorLabels" $sel | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      # maxUnavailable 0: a new pod must be ready before an old one starts draining, so a
      # rollout never lowers the serving capacity.
      maxSurge: {{ $v.rollingUpdate.maxSurge }}
      maxUnavailable: {{ $v.rollingUpdate.maxUnavailable }}
  template:
    metadata:
      labels:
        {{- include "switchyard.componentLabels" $sel | nindent 8 }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        # A change of the settings, the tenants file or the NATS credentials rolls the pods.
        checksum/config: {{ (include (print $ctx.Template.BasePath "/configmap.yaml") $ctx | fromYaml).data | toJson | sha256sum }}
        checksum/tenants: {{ include "switchyard.tenants.checksum" $ctx }}
        checksum/nats-auth: {{ include "switchyard.natsAuth.checksum" $ctx }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      # Kubernetes would otherwise inject <SERVICE>_PORT=tcp://… variables, and for a Service
      # named "switchyard" that is SWITCHYARD_PORT, which Switchyard reads as its --port.
      enableServiceLinks: false
      serviceAccountName: {{ include "switchyard.serviceAccountName" $ctx }}
      # Switchyard never calls the Kubernetes API.
      automountServiceAccountToken: {{ $ctx.Values.serviceAccount.automountToken }}
      {{- with $ctx.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.priorityClassName }}
      priorityClassName: {{ . | quote }}
      {{- end }}
      securityContext:
        {{- toYaml $ctx.Values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ include "switchyard.gracePeriod" (dict "v" $v) }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- include "switchyard.topologySpread" (dict "ctx" $ctx "component" $component "constraints" .) | trim | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ $component }}
          image: {{ include "switchyard.image" $ctx | quote }}
          imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
          args: [{{ .role | quote }}]
          ports:
            - name: http
              containerPort: {{ $v.containerPort }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ include "switchyard.config.fullname" $ctx }}
            {{- with $v.extraEnvFrom }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          env:
            # The pod's name is the node id: logs, /stats and connection ids name the pod.
            - name: SWITCHYARD_NODE_ID
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: SWITCHYARD_PORT
              value: {{ $v.containerPort | int | quote }}
            {{- if eq .role "gateway" }}
            - name: SWITCHYARD_THREADS
              value: {{ $v.threads | quote }}
            {{- end }}
            - name: SWITCHYARD_DRAIN_DELAY
              value: {{ $v.drain.delaySeconds | int | quote }}
            - name: SWITCHYARD_DRAIN_SECONDS
              value: {{ $v.drain.seconds | default 0 | int | quote }}
            {{- if $ctx.Values.nats.auth.enabled }}
            - name: SWITCHYARD_NATS_USER
              valueFrom:
                secretKeyRef:
                  name: {{ include "switchyard.natsAuth.secretName" $ctx }}
                  key: {{ include "switchyard.natsAuth.userKey" $ctx }}
            - name: SWITCHYARD_NATS_PASS
              valueFrom:
                secretKeyRef:
                  name: {{ include "switchyard.natsAuth.secretName" $ctx }}
                  key: {{ include "switchyard.natsAuth.passwordKey" $ctx }}
            {{- end }}
            {{- if $ctx.Values.nats.tls.caSecret }}
            - name: SWITCHYARD_NATS_TLS_CA
              value: /etc/switchyard/nats-ca/{{ $ctx.Values.nats.tls.caKey }}
            {{- end }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            {{- with $v.livenessProbe }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            {{- with $v.readinessProbe }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- if gt (int $v.preStopSleepSeconds) 0 }}
          lifecycle:
            preStop:
              # Kubernetes' own sleep action (1.30+): the image needs no shell.
              sleep:
                seconds: {{ $v.preStopSleepSeconds }}
          {{- end }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- toYaml $ctx.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tenants
              mountPath: /etc/switchyard/tenants
              readOnly: true
            - name: tmp
              mountPath: /tmp
            {{- if $ctx.Values.nats.tls.caSecret }}
            - name: nats-ca
              mountPath: /etc/switchyard/nats-ca
              readOnly: true
            {{- end }}
            {{- with $v.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tenants
          secret:
            secretName: {{ include "switchyard.tenants.secretName" $ctx }}
            items:
              - key: {{ include "switchyard.tenants.secretKey" $ctx }}
                path: tenants.json
        # The only place the process may write (the root filesystem is read-only).
        - name: tmp
          emptyDir:
            sizeLimit: {{ $ctx.Values.tmpSizeLimit }}
        {{- if $ctx.Values.nats.tls.caSecret }}
        - name: nats-ca
          secret:
            secretName: {{ $ctx.Values.nats.tls.caSecret }}
            items:
              - key: {{ $ctx.Values.nats.tls.caKey }}
                path: {{ $ctx.Values.nats.tls.caKey }}
        {{- end }}
        {{- with $v.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
{{- end -}}

{{/* A HorizontalPodAutoscaler for one role; same arguments as switchyard.deployment. */}}
{{- define "switchyard.hpa" -}}
{{- $ctx := .ctx -}}
{{- $a := .v.autoscaling -}}
{{- $sel := dict "ctx" $ctx "component" .component -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "switchyard.fullname" $ctx }}-{{ .component }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "switchyard.componentLabels" $sel | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "switchyard.fullname" $ctx }}-{{ .component }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    {{- if $a.targetCPUUtilizationPercentage }}
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
    {{- end }}
    {{- with $a.connectionsPerPod }}
    {{- if .enabled }}
    - type: Pods
      pods:
        metric:
          name: {{ .metricName }}
        target:
          type: AverageValue
          averageValue: {{ .averageValue | quote }}
    {{- end }}
    {{- end }}
    {{- with $a.extraMetrics }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $a.behavior }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* A PodDisruptionBudget for one component; call with (dict "ctx" $ "component" "gateway" "pdb" .Values.gateway.pdb). */}}
{{- define "switchyard.pdb" -}}
{{- $sel := dict "ctx" .ctx "component" .component -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "switchyard.fullname" .ctx }}-{{ .component }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "switchyard.componentLabels" $sel | nindent 4 }}
spec:
  {{- if not (kindIs "invalid" .pdb.minAvailable) }}
  minAvailable: {{ .pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ .pdb.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "switchyard.selectorLabels" $sel | nindent 6 }}
{{- end -}}
