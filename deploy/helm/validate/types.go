package main

import (
	"fmt"
	"sort"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	sigsjson "sigs.k8s.io/json"
)

// object is a decoded manifest: its kind and name, and the typed value for the cross checks.
type object struct {
	kind, name string
	meta       metav1.ObjectMeta
	value      any
}

// kinds are the API types a manifest may have; anything else is refused. Extend it when the chart
// renders a new kind (a CRD's Go types, or its schema as a struct as for KEDA below).
var kinds = map[string]func() any{
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                               func() any { return &corev1.Secret{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
	"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
	"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler":  func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} },
	"keda.sh/v1alpha1/ScaledObject":           func() any { return &ScaledObject{} },
}

func decodeTyped(apiVersion, kind string, js []byte) (object, error) {
	newValue, ok := kinds[apiVersion+"/"+kind]
	if !ok {
		known := make([]string, 0, len(kinds))
		for k := range kinds {
			known = append(known, k)
		}
		sort.Strings(known)
		return object{}, fmt.Errorf("%s %s: not a kind this validator knows (%s)", apiVersion, kind, strings.Join(known, ", "))
	}
	value := newValue()
	// Case-sensitive field names, unknown fields and duplicates reported: the API server's strict
	// field validation (encoding/json alone would accept "Replicas" for "replicas").
	strictErrs, err := sigsjson.UnmarshalStrict(js, value)
	if err != nil {
		return object{}, fmt.Errorf("%s: %w", kind, err)
	}
	if len(strictErrs) > 0 {
		msgs := make([]string, len(strictErrs))
		for i, e := range strictErrs {
			msgs[i] = e.Error()
		}
		return object{}, fmt.Errorf("%s: %s", kind, strings.Join(msgs, "; "))
	}
	meta := objectMeta(value)
	if errs := validation.IsDNS1123Subdomain(meta.Name); len(errs) > 0 {
		return object{}, fmt.Errorf("%s %q: metadata.name: %s", kind, meta.Name, strings.Join(errs, "; "))
	}
	return object{kind: kind, name: meta.Name, meta: meta, value: value}, nil
}

func objectMeta(v any) metav1.ObjectMeta {
	switch o := v.(type) {
	case metav1.Object:
		return metav1.ObjectMeta{Name: o.GetName(), Namespace: o.GetNamespace(), Labels: o.GetLabels()}
	case *ScaledObject:
		return o.ObjectMeta
	}
	return metav1.ObjectMeta{}
}

// ScaledObject is KEDA's keda.sh/v1alpha1 ScaledObject, the part of its schema this chart uses,
// with KEDA's field names (github.com/kedacore/keda, apis/keda/v1alpha1/scaledobject_types.go).
// KEDA's Go module drags in every scaler's SDK, so its schema is mirrored here instead.
type ScaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ScaledObjectSpec `json:"spec"`
}

type ScaledObjectSpec struct {
	ScaleTargetRef  *ScaleTarget    `json:"scaleTargetRef"`
	PollingInterval *int32          `json:"pollingInterval,omitempty"`
	CooldownPeriod  *int32          `json:"cooldownPeriod,omitempty"`
	MinReplicaCount *int32          `json:"minReplicaCount,omitempty"`
	MaxReplicaCount *int32          `json:"maxReplicaCount,omitempty"`
	Advanced        *AdvancedConfig `json:"advanced,omitempty"`
	Triggers        []ScaleTrigger  `json:"triggers"`
	Fallback        *Fallback       `json:"fallback,omitempty"`
}

type ScaleTarget struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Name       string `json:"name"`
}

type AdvancedConfig struct {
	HorizontalPodAutoscalerConfig *HPAConfig `json:"horizontalPodAutoscalerConfig,omitempty"`
	RestoreToOriginalReplicaCount bool       `json:"restoreToOriginalReplicaCount,omitempty"`
}

type HPAConfig struct {
	Name     string                                         `json:"name,omitempty"`
	Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
}

type ScaleTrigger struct {
	Type              string                         `json:"type"`
	Name              string                         `json:"name,omitempty"`
	UseCachedMetrics  bool                           `json:"useCachedMetrics,omitempty"`
	Metadata          map[string]string              `json:"metadata"`
	MetricType        autoscalingv2.MetricTargetType `json:"metricType,omitempty"`
	AuthenticationRef *struct {
		Name string `json:"name"`
		Kind string `json:"kind,omitempty"`
	} `json:"authenticationRef,omitempty"`
}

type Fallback struct {
	FailureThreshold int32 `json:"failureThreshold"`
	Replicas         int32 `json:"replicas"`
}
