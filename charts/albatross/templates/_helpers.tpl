{{/* Chart name, overridable. */}}
{{- define "albatross.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified name of the release's objects. A release named "albatross" (the documented
install) gets "albatross", so the objects are those of manifests/deploy.
*/}}
{{- define "albatross.fullname" -}}
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

{{- define "albatross.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "albatross.labels" -}}
helm.sh/chart: {{ include "albatross.chart" . }}
{{ include "albatross.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the controller's pods. */}}
{{- define "albatross.selectorLabels" -}}
app.kubernetes.io/name: {{ include "albatross.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "albatross.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "albatross.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* ALBATROSS_WEBHOOK_SERVICE: the Service in front of the webhook. */}}
{{- define "albatross.webhookServiceName" -}}
{{- default (printf "%s-webhook" (include "albatross.fullname" .)) .Values.webhook.serviceName | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* ALBATROSS_WEBHOOK_CONFIGURATION: the Validating- and MutatingWebhookConfiguration. */}}
{{- define "albatross.webhookConfigurationName" -}}
{{- default (include "albatross.fullname" .) .Values.webhook.configurationName }}
{{- end }}

{{/* ALBATROSS_CERT_SECRET: the Secret of bootstrap mode. */}}
{{- define "albatross.certSecretName" -}}
{{- default (printf "%s-webhook-tls" (include "albatross.fullname" .)) .Values.webhook.certSecret | trunc 253 }}
{{- end }}

{{/* ALBATROSS_LEASE_NAME. */}}
{{- define "albatross.leaseName" -}}
{{- default (printf "%s-leader" (include "albatross.fullname" .)) .Values.leaderElection.leaseName | trunc 253 }}
{{- end }}

{{/* The cert-manager Certificate (and its Secret) when certManager.enabled. */}}
{{- define "albatross.certificateName" -}}
{{- printf "%s-webhook" (include "albatross.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The port of a "HOST:PORT" listen address ("0.0.0.0:9443", "[::]:9443"). */}}
{{- define "albatross.port" -}}
{{- splitList ":" . | last | int }}
{{- end }}

{{/* The webhook configurations' annotations: cert-manager's CA injection when enabled. */}}
{{- define "albatross.webhookAnnotations" -}}
{{- if .Values.certManager.enabled }}
cert-manager.io/inject-ca-from: {{ printf "%s/%s" .Release.Namespace (include "albatross.certificateName" .) }}
{{- end }}
{{- with .Values.webhook.annotations }}
{{ toYaml . }}
{{- end }}
{{- end }}
