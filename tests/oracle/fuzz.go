// fuzz mode: random objects of every stored kind, as kube-apiserver would store them.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsv1beta1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	"k8s.io/apimachinery/pkg/api/resource"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/randfill"
)

// notStored: kinds with ObjectMeta that kube-apiserver never writes to etcd (requests, reviews
// and subresources, answered without storage).
var notStored = map[string]bool{
	"Binding": true, "Eviction": true, "Scale": true, "DeploymentRollback": true,
	"TokenRequest": true, "TokenReview": true, "SelfSubjectReview": true,
	"SubjectAccessReview": true, "SelfSubjectAccessReview": true,
	"LocalSubjectAccessReview": true, "SelfSubjectRulesReview": true,
	"ImageReview": true, "PodStatusResult": true, "APIGroupDiscovery": true,
	"ComponentStatus": true, // computed on request, never written
}

type fuzzed struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Value      string `json:"value,omitempty"`
	JSON       string `json:"json,omitempty"`
	YAML       string `json:"yaml,omitempty"`
	Error      string `json:"error,omitempty"`
}

// storedKinds: every group/version/kind of the scheme that is a stored object: it has
// ObjectMeta, it is not a list and it is not a request.
func storedKinds(scheme *runtime.Scheme) []schema.GroupVersionKind {
	meta := reflect.TypeOf(metav1.ObjectMeta{})
	var kinds []schema.GroupVersionKind
	for gvk, t := range scheme.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal || strings.HasSuffix(gvk.Kind, "List") ||
			notStored[gvk.Kind] {
			continue
		}
		if field, ok := t.FieldByName("ObjectMeta"); ok && field.Type == meta {
			kinds = append(kinds, gvk)
		}
	}
	sort.Slice(kinds, func(i, j int) bool { return kinds[i].String() < kinds[j].String() })
	return kinds
}

func fuzz(c *codecs, n int, seed int64, enc *json.Encoder) {
	factory := runtimeserializer.NewCodecFactory(c.scheme)
	filler := fuzzer.FuzzerFor(
		fuzzer.MergeFuzzerFuncs(metafuzzer.Funcs, fillFuncs), rand.NewSource(seed), factory,
	).NumElements(0, 2)
	for _, gvk := range storedKinds(c.scheme) {
		apiVersion, kind := gvk.ToAPIVersionAndKind()
		for i := 0; i < n; i++ {
			res := fuzzed{APIVersion: apiVersion, Kind: kind}
			value, err := stored(c, filler, gvk)
			if err == nil {
				res.Value = base64.StdEncoding.EncodeToString(value)
				res.JSON, res.YAML, err = c.readBack(value)
			}
			if err != nil {
				res.Error = err.Error()
			}
			_ = enc.Encode(res)
		}
	}
}

// stored: a random object of kind gvk in kube-apiserver's storage encoding.
func stored(c *codecs, filler *randfill.Filler, gvk schema.GroupVersionKind) ([]byte, error) {
	obj, err := c.scheme.New(gvk)
	if err != nil {
		return nil, err
	}
	filler.Fill(obj)
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	var buf bytes.Buffer
	if err := c.pb.Encode(obj, &buf); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return buf.Bytes(), nil
}

// fillFuncs: where random values cannot be what an apiserver stores, values that can, chosen to
// reach the corners of the conversions ketui must reproduce (time precision, quantities, float
// formatting, raw JSON of any shape and key order).
func fillFuncs(runtimeserializer.CodecFactory) []any {
	return []any{
		func(t *metav1.Time, c randfill.Continue) {
			if seconds, nanos, ok := randomInstant(c); ok {
				t.Time = time.Unix(seconds, nanos)
			} else {
				*t = metav1.Time{}
			}
		},
		func(t *metav1.MicroTime, c randfill.Continue) {
			if seconds, nanos, ok := randomInstant(c); ok {
				t.Time = time.Unix(seconds, nanos)
			} else {
				*t = metav1.MicroTime{}
			}
		},
		func(q *resource.Quantity, c randfill.Continue) { *q = randomQuantity(c) },
		func(f *float64, c randfill.Continue) { *f = randomFloat(c) },
		func(r *runtime.RawExtension, c randfill.Continue) {
			r.Raw = nil
			if c.Intn(4) > 0 {
				r.Raw = randomJSONObject(c, 3)
			}
		},
		func(f *metav1.FieldsV1, c randfill.Continue) { f.Raw = randomFieldsV1(c, 3) },
		func(e *metav1.ManagedFieldsEntry, c randfill.Continue) {
			c.FillNoCustom(e) // overrides metafuzzer's, which leaves FieldsV1 out
		},
		func(j *apiextensionsv1.JSON, c randfill.Continue) { j.Raw = randomJSON(c, 3) },
		func(j *apiextensionsv1beta1.JSON, c randfill.Continue) { j.Raw = randomJSON(c, 3) },
		func(p *apiextensionsv1.JSONSchemaProps, c randfill.Continue) { fillSparsely(p, c) },
		func(p *apiextensionsv1beta1.JSONSchemaProps, c randfill.Continue) { fillSparsely(p, c) },
	}
}

// randomInstant: a time JSON can print (years 1-9999), whole seconds or with nanoseconds (as
// metav1.Now() stores them), or (ok false) the zero time.
func randomInstant(c randfill.Continue) (int64, int64, bool) {
	const first, last = -62135596800, 253402300799 // 0001-01-01, 9999-12-31T23:59:59Z
	switch c.Intn(8) {
	case 0:
		return 0, 0, false
	case 1:
		return first + c.Int63n(last-first), 0, true
	}
	seconds := 1_400_000_000 + c.Int63n(600_000_000) // 2014-2033
	if c.Bool() {
		return seconds, 0, true
	}
	return seconds, c.Int63n(1_000_000_000), true
}

func randomQuantity(c randfill.Continue) resource.Quantity {
	suffixes := []string{"", "", "m", "u", "n", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi",
		"Ti", "Pi", "Ei", "e3", "e-3", "E6", "e-9"}
	var number string
	switch c.Intn(3) {
	case 0:
		number = strconv.FormatInt(c.Int63n(10_000), 10)
	case 1:
		number = strconv.FormatInt(c.Int63n(1_000_000), 10) + "." + strconv.FormatInt(c.Int63n(1000), 10)
	default:
		number = strconv.FormatInt(c.Int63(), 10)
	}
	if c.Intn(8) == 0 {
		number = "-" + number
	}
	q, err := resource.ParseQuantity(number + suffixes[c.Intn(len(suffixes))])
	if err != nil {
		return *resource.NewQuantity(c.Int63n(1000), resource.DecimalSI)
	}
	return q
}

func randomFloat(c randfill.Continue) float64 {
	switch c.Intn(6) {
	case 0:
		return float64(c.Int63n(2000) - 1000)
	case 1:
		return 0
	}
	f := c.Float64() * math.Pow(10, float64(c.Intn(50)-25))
	if c.Bool() {
		f = -f
	}
	return f
}

// randomJSON: any JSON value, written with its keys in generation order (not sorted), numbers
// in every form JSON allows.
func randomJSON(c randfill.Continue, depth int) []byte {
	var b bytes.Buffer
	writeJSON(&b, c, depth, c.Intn(8))
	return b.Bytes()
}

func randomJSONObject(c randfill.Continue, depth int) []byte {
	var b bytes.Buffer
	writeJSON(&b, c, depth, 0)
	return b.Bytes()
}

func writeJSON(b *bytes.Buffer, c randfill.Continue, depth, shape int) {
	if depth <= 0 && shape < 2 {
		shape = 2 + c.Intn(6)
	}
	switch shape {
	case 0:
		b.WriteByte('{')
		seen := map[string]bool{}
		for i, n := 0, c.Intn(4); i < n; i++ {
			name := c.String(0)
			if seen[name] {
				continue // an apiserver never stores a key twice
			}
			seen[name] = true
			if len(seen) > 1 {
				b.WriteByte(',')
			}
			key, _ := json.Marshal(name)
			b.Write(key)
			b.WriteByte(':')
			writeJSON(b, c, depth-1, c.Intn(8))
		}
		b.WriteByte('}')
	case 1:
		b.WriteByte('[')
		for i, n := 0, c.Intn(4); i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, c, depth-1, c.Intn(8))
		}
		b.WriteByte(']')
	case 2, 3:
		text, _ := json.Marshal(c.String(0))
		b.Write(text)
	case 4:
		b.WriteString(strconv.FormatInt(c.Int63n(1<<62)-(1<<61), 10))
	case 5:
		forms := []string{"0", "-0", "1.0", "1.5e3", "1E-7", "12345678901234567890", "0.1",
			"3.14159", "-2.5E+10", "1e21", "1e20", "0.000001", "0.0000001", "100", "-1"}
		b.WriteString(forms[c.Intn(len(forms))])
	case 6:
		b.WriteString(strconv.FormatBool(c.Bool()))
	default:
		b.WriteString("null")
	}
}

// randomFieldsV1: a managedFields set as the apiserver writes it: keys "f:name", "k:{...}",
// "v:..." and "." whose values are sets too.
func randomFieldsV1(c randfill.Continue, depth int) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	seen := map[string]bool{}
	for i, n := 0, c.Intn(4); i < n; i++ {
		var key string
		switch c.Intn(4) {
		case 0:
			key = "."
		case 1:
			key = `k:{"name":` + strconv.Quote(c.String(0)) + `}`
		case 2:
			key = "v:" + strconv.Quote(c.String(0))
		default:
			key = "f:" + c.String(0)
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		if len(seen) > 1 {
			b.WriteByte(',')
		}
		quoted, _ := json.Marshal(key)
		b.Write(quoted)
		b.WriteByte(':')
		if depth > 0 {
			b.Write(randomFieldsV1(c, depth-1))
		} else {
			b.WriteString("{}")
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}

// fillSparsely fills a JSON schema's value fields and only one in ten of its pointers, maps and
// slices: a schema holds schemas in a dozen fields, and filling each would never end.
func fillSparsely(schema any, c randfill.Continue) {
	value := reflect.ValueOf(schema).Elem()
	for i := 0; i < value.NumField(); i++ {
		switch value.Field(i).Kind() {
		case reflect.Interface, reflect.Map, reflect.Slice, reflect.Pointer:
			if c.Intn(10) != 0 {
				continue
			}
		}
		c.Fill(value.Field(i).Addr().Interface())
	}
}
