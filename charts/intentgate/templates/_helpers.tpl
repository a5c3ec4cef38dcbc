{{/* Names. "<release>" when the release name already contains the chart name, else "<release>-intentgate". */}}
{{- define "intentgate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "intentgate.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "intentgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "intentgate.serviceAccountName" -}}
{{- default (include "intentgate.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "intentgate.webhookName" -}}
{{- default (printf "%s-injector" (include "intentgate.fullname" .)) .Values.webhook.name -}}
{{- end -}}

{{- define "intentgate.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "intentgate.fullname" .)) .Values.webhook.tlsSecretName -}}
{{- end -}}

{{- define "intentgate.leaseName" -}}
{{- default (printf "%s-leader" (include "intentgate.fullname" .)) .Values.controller.leaseName -}}
{{- end -}}

{{/* An image reference: repository@digest when a digest is set, else repository:tag (tag defaults to appVersion). */}}
{{- define "intentgate.image" -}}
{{- $image := index .root.Values.image .name -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default .root.Chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Namespaces the webhook never sends: the release namespace, kube-system and any listed. */}}
{{- define "intentgate.excludedNamespaces" -}}
{{- $all := concat (list .Release.Namespace "kube-system") .Values.webhook.excludedNamespaces | uniq -}}
{{- toJson $all -}}
{{- end -}}
