{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "roster.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name; the release name alone when it already contains the chart name. */}}
{{- define "roster.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "roster.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "roster.labels" -}}
helm.sh/chart: {{ include "roster.chart" . }}
app.kubernetes.io/name: {{ include "roster.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ (default .Chart.AppVersion .Values.image.tag) | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: roster
{{- end }}

{{/*
Selector of the server pods (Deployment, Service, PDB). It includes the
component so that migration Job pods, which carry the same name and instance,
never receive Service traffic. Selectors are immutable: do not change this.
*/}}
{{- define "roster.selectorLabels" -}}
app.kubernetes.io/name: {{ include "roster.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{- define "roster.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "roster.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "roster.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}

{{/* Name of the Secret holding DATABASE_URL, ADMIN_TOKEN, BOOTSTRAP_TOKEN and ENCRYPTION_KEYS, as the Deployment sees it. */}}
{{- define "roster.secretName" -}}
{{- default (include "roster.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/*
Name of the Secret the migration Job reads. A pre-install hook runs before the
release's ordinary objects exist, so the Job cannot use the chart's own Secret
on a first install. When the chart manages the secrets it therefore also
renders a copy as a hook (templates/migration-secret.yaml, lower hook weight,
deleted once the hooks succeeded). An existingSecret is already there: the Job
uses it directly.
*/}}
{{- define "roster.migrationSecretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- printf "%s-migrate" (include "roster.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* data: of the chart-managed Secret (only the values that are set). */}}
{{- define "roster.secretData" -}}
{{- $s := .Values.secrets }}
{{- if $s.databaseUrl }}
{{ $s.keys.databaseUrl }}: {{ $s.databaseUrl | b64enc | quote }}
{{- end }}
{{- if $s.adminToken }}
{{ $s.keys.adminToken }}: {{ $s.adminToken | b64enc | quote }}
{{- end }}
{{- if $s.bootstrapToken }}
{{ $s.keys.bootstrapToken }}: {{ $s.bootstrapToken | b64enc | quote }}
{{- end }}
{{- if $s.encryptionKeys }}
{{ $s.keys.encryptionKeys }}: {{ $s.encryptionKeys | b64enc | quote }}
{{- end }}
{{- end }}

{{/*
"true" for the evaluation setup: no database configured, so Roster runs on its
embedded database on a PersistentVolumeClaim, one replica. Empty otherwise.
*/}}
{{- define "roster.embedded" -}}
{{- if not (or .Values.secrets.existingSecret .Values.secrets.databaseUrl) }}true{{ end }}
{{- end }}

{{/* Name of the embedded database's PersistentVolumeClaim. */}}
{{- define "roster.dataClaimName" -}}
{{- default (printf "%s-data" (include "roster.fullname" .) | trunc 63 | trimSuffix "-") .Values.persistence.existingClaim }}
{{- end }}

{{/* Whether the chart renders its own Secret: it holds DATABASE_URL, at least one token, or the encryption keys. */}}
{{- define "roster.ownSecret" -}}
{{- if and (not .Values.secrets.existingSecret) (or .Values.secrets.databaseUrl .Values.secrets.adminToken .Values.secrets.bootstrapToken .Values.secrets.encryptionKeys) }}true{{ end }}
{{- end }}

{{/*
Paths the public Ingress routes: what identity providers and webhook receivers
need, nothing else. A new public page (e.g. a setup link) is one more line.
*/}}
{{- define "roster.publicPaths" -}}
- path: /scim/v2
  pathType: Prefix
- path: /.well-known/jwks.json
  pathType: Exact
- path: /oauth/token
  pathType: Exact
- path: /.well-known/oauth-authorization-server
  pathType: Exact
- path: /setup
  pathType: Prefix
- path: /console/assets
  pathType: Prefix
{{- end }}

{{/* Paths of the private admin Ingress, on the http port (metrics: see admin-ingress.yaml). */}}
{{- define "roster.adminPaths" -}}
- path: /admin
  pathType: Prefix
- path: /docs
  pathType: Prefix
- path: /openapi.json
  pathType: Exact
- path: /console
  pathType: Prefix
{{- end }}

{{/* Refuse to render a release that cannot work. */}}
{{- define "roster.validate" -}}
{{- if and .Values.metrics.enabled (eq (int .Values.metrics.port) (int .Values.containerPort)) }}
{{- fail "roster: metrics.port must differ from containerPort" }}
{{- end }}
{{- if and .Values.secrets.bootstrapToken (not .Values.secrets.existingSecret) (not .Values.env.BOOTSTRAP_TENANT) }}
{{- fail "roster: secrets.bootstrapToken is set but env.BOOTSTRAP_TENANT is not" }}
{{- end }}
{{- if and (include "roster.embedded" .) .Values.autoscaling.enabled }}
{{- fail "roster: autoscaling needs a Postgres database (secrets.databaseUrl or secrets.existingSecret): the embedded database runs one replica" }}
{{- end }}
{{- end }}

{{/* PUBLIC_URL: env.PUBLIC_URL, else https?://<first ingress host>, else empty (Roster's default). */}}
{{- define "roster.publicUrl" -}}
{{- if .Values.env.PUBLIC_URL }}
{{- .Values.env.PUBLIC_URL | toString | trimSuffix "/" }}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts }}
{{- $host := (first .Values.ingress.hosts).host }}
{{- $https := false }}
{{- range .Values.ingress.tls }}
{{- if has $host (.hosts | default list) }}{{ $https = true }}{{ end }}
{{- end }}
{{- printf "%s://%s" (ternary "https" "http" $https) $host }}
{{- end }}
{{- end }}

{{/*
Settings from .Values.env as "NAME: value" lines, empty ones left out, plus the
derived PUBLIC_URL. Shared by the ConfigMap and (inline) the migration Job.
*/}}
{{- define "roster.userEnv" -}}
{{- range $name, $value := omit .Values.env "PUBLIC_URL" }}
{{- if not (kindIs "invalid" $value) }}
{{- $s := include "roster.envValue" $value }}
{{- if ne $s "" }}
{{ $name }}: {{ $s | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- with include "roster.publicUrl" . }}
PUBLIC_URL: {{ . | quote }}
{{- end }}
{{- end }}

{{/* An env value as a string; whole numbers stay whole (values arrive as float64). */}}
{{- define "roster.envValue" -}}
{{- if kindIs "float64" . }}{{ int64 . }}{{ else }}{{ toString . }}{{ end }}
{{- end }}

{{/* terminationGracePeriodSeconds: preStop sleep + shutdown timeout (rounded up) + 5 s slack. */}}
{{- define "roster.terminationGracePeriodSeconds" -}}
{{- add (int64 .Values.preStopSleepSeconds) (div (add (int64 .Values.shutdownTimeoutMs) 999) 1000) 5 }}
{{- end }}

{{/* Pod-level settings shared by the Deployment and the migration Job. */}}
{{- define "roster.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
enableServiceLinks: false
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end }}
