package main

import (
	"fmt"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// crossCheck finds references between objects that point nowhere: a selector that selects no
// pods, a scale target that is not rendered, a port name no container declares.
func crossCheck(objs []object) []string {
	var problems []string
	add := func(o object, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s/%s: %s", o.kind, o.name, fmt.Sprintf(format, args...)))
	}
	deployments := map[string]*appsv1.Deployment{}
	var services []*corev1.Service
	seen := map[string]bool{}
	for _, o := range objs {
		key := o.kind + "/" + o.meta.Namespace + "/" + o.name
		if seen[key] {
			add(o, "rendered twice")
		}
		seen[key] = true
		switch v := o.value.(type) {
		case *appsv1.Deployment:
			deployments[v.Name] = v
		case *corev1.Service:
			services = append(services, v)
		}
	}
	// The pod templates a selector matches.
	podsOf := func(sel *metav1.LabelSelector) []*appsv1.Deployment {
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil || s.Empty() {
			return nil
		}
		var out []*appsv1.Deployment
		for _, d := range deployments {
			if s.Matches(labels.Set(d.Spec.Template.Labels)) {
				out = append(out, d)
			}
		}
		return out
	}
	for _, o := range objs {
		switch v := o.value.(type) {
		case *appsv1.Deployment:
			if len(podsOf(v.Spec.Selector)) == 0 || !selects(v.Spec.Selector, v.Spec.Template.Labels) {
				add(o, "spec.selector does not match its own pod template's labels")
			}
			for _, c := range v.Spec.Template.Spec.Containers {
				for what, p := range map[string]*corev1.Probe{"readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe, "startupProbe": c.StartupProbe} {
					if p != nil && p.HTTPGet != nil && !hasPort(c.Ports, p.HTTPGet.Port) {
						add(o, "container %s: %s port %s is not one of its ports", c.Name, what, p.HTTPGet.Port.String())
					}
				}
			}
		case *corev1.Service:
			pods := podsOf(&metav1.LabelSelector{MatchLabels: v.Spec.Selector})
			if len(pods) == 0 {
				add(o, "spec.selector %v selects no rendered Deployment's pods", v.Spec.Selector)
			}
			for _, p := range v.Spec.Ports {
				for _, d := range pods {
					if p.TargetPort.Type == intstr.String && !podHasPort(d, p.TargetPort) {
						add(o, "port %s: targetPort %q is not a port of %s's containers", p.Name, p.TargetPort.StrVal, d.Name)
					}
				}
			}
		case *policyv1.PodDisruptionBudget:
			if len(podsOf(v.Spec.Selector)) == 0 {
				add(o, "spec.selector selects no rendered Deployment's pods")
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			d := deployments[v.Spec.ScaleTargetRef.Name]
			if v.Spec.ScaleTargetRef.Kind != "Deployment" || d == nil {
				add(o, "scaleTargetRef %s/%s is not a rendered Deployment", v.Spec.ScaleTargetRef.Kind, v.Spec.ScaleTargetRef.Name)
			}
			if v.Spec.MinReplicas != nil && *v.Spec.MinReplicas > v.Spec.MaxReplicas {
				add(o, "minReplicas %d > maxReplicas %d", *v.Spec.MinReplicas, v.Spec.MaxReplicas)
			}
			for _, m := range v.Spec.Metrics {
				if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && d != nil && !requests(d, m.Resource.Name) {
					add(o, "scales on %s utilization but %s's containers request no %s", m.Resource.Name, d.Name, m.Resource.Name)
				}
			}
		case *ScaledObject:
			if v.Spec.ScaleTargetRef == nil || deployments[v.Spec.ScaleTargetRef.Name] == nil {
				add(o, "scaleTargetRef is not a rendered Deployment")
			}
			if len(v.Spec.Triggers) == 0 {
				add(o, "no triggers")
			}
		case *monitoringv1.ServiceMonitor:
			problems = append(problems, checkMonitor(o, v, services)...)
		}
	}
	return problems
}

func checkMonitor(o object, m *monitoringv1.ServiceMonitor, services []*corev1.Service) []string {
	var problems []string
	sel, err := metav1.LabelSelectorAsSelector(&m.Spec.Selector)
	if err != nil {
		return []string{fmt.Sprintf("%s/%s: selector: %v", o.kind, o.name, err)}
	}
	ports := map[string]bool{}
	matched := 0
	for _, s := range services {
		if !sel.Empty() && sel.Matches(labels.Set(s.Labels)) {
			matched++
			for _, p := range s.Spec.Ports {
				ports[p.Name] = true
			}
		}
	}
	if matched == 0 {
		problems = append(problems, fmt.Sprintf("%s/%s: selector matches no rendered Service", o.kind, o.name))
	}
	for _, e := range m.Spec.Endpoints {
		if e.Port != "" && !ports[e.Port] {
			problems = append(problems, fmt.Sprintf("%s/%s: endpoint port %q is no selected Service's port", o.kind, o.name, e.Port))
		}
	}
	return problems
}

func selects(sel *metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && !s.Empty() && s.Matches(labels.Set(l))
}

func hasPort(ports []corev1.ContainerPort, p intstr.IntOrString) bool {
	for _, cp := range ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return true
		}
	}
	return false
}

func podHasPort(d *appsv1.Deployment, p intstr.IntOrString) bool {
	for _, c := range d.Spec.Template.Spec.Containers {
		if hasPort(c.Ports, p) {
			return true
		}
	}
	return false
}

func requests(d *appsv1.Deployment, name corev1.ResourceName) bool {
	for _, c := range d.Spec.Template.Spec.Containers {
		if _, ok := c.Resources.Requests[name]; !ok {
			return false
		}
	}
	return true
}
