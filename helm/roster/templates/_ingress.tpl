{{/*
An Ingress to one Service, for ingress.* or adminIngress.*: dict with
"root" (the chart context), "values" (the ingress values), "name", "component",
"service" (its name) and "paths" (list of {path, pathType, port}).
*/}}
{{- define "roster.ingress" -}}
{{- $v := .values }}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ .name }}
  labels:
    {{- include "roster.labels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
  {{- with $v.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- with $v.className }}
  ingressClassName: {{ . }}
  {{- end }}
  {{- with $v.tls }}
  tls:
    {{- range . }}
    - hosts:
        {{- range .hosts }}
        - {{ . | quote }}
        {{- end }}
      {{- with .secretName }}
      secretName: {{ . }}
      {{- end }}
    {{- end }}
  {{- end }}
  rules:
    {{- $ctx := . }}
    {{- range $v.hosts }}
    - host: {{ .host | quote }}
      http:
        paths:
          {{- range $ctx.paths }}
          - path: {{ .path }}
            pathType: {{ .pathType }}
            backend:
              service:
                name: {{ $ctx.service }}
                port:
                  name: {{ .port }}
          {{- end }}
    {{- end }}
{{- end }}
