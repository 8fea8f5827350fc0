package codec

import (
	"encoding/json"
	"errors"
	"fmt"

	pb "github.com/plexusml/plexus/plugins/proto/plexus/v1"
)

// Value is one field value: string, float64, int64, bool, []byte, []string,
// []float64, *tensor.Tensor or []Value.
type Value = any

// Item is one element of a batch.
type Item struct {
	ID       string
	Modality string
	Fields   map[string]Value
}

// Result is what a plugin produced for one item: its fields, or Err.
type Result struct {
	Fields map[string]Value
	Err    error
}

// Error kinds that cross the wire and that callers branch on with errors.Is.
var (
	// ErrBadItem: the item itself is at fault (wrong shape, undecodable bytes); retrying
	// cannot help, the engine dead-letters it.
	ErrBadItem = errors.New("bad item")
	// ErrInternal: the plugin failed on the item for its own reasons.
	ErrInternal = errors.New("plugin error")
	// ErrPoison: the item crashed or hung its plugin on every retry, alone in its batch.
	ErrPoison = errors.New("item crashes its plugin")
	// ErrUnavailable: the plugin could not be started or kept running; the item was
	// not judged and may be retried later.
	ErrUnavailable = errors.New("plugin unavailable")
)

// ItemError is a per-item failure. Kind is one of the Err* sentinels above, which
// errors.Is matches.
type ItemError struct {
	Item   string // the item's id
	Kind   error
	Reason string
}

func (e *ItemError) Error() string {
	if e.Item == "" {
		return fmt.Sprintf("%v: %s", e.Kind, e.Reason)
	}
	return fmt.Sprintf("item %s: %v: %s", e.Item, e.Kind, e.Reason)
}

// Is reports whether target is e's kind.
func (e *ItemError) Is(target error) bool { return target == e.Kind }

// Permanent reports whether retrying the item is pointless: the item is at fault
// (ErrBadItem) or kills its plugin (ErrPoison). The engine dead-letters those and
// retries the others.
func (e *ItemError) Permanent() bool { return e.Kind == ErrBadItem || e.Kind == ErrPoison }

// Unwrap exposes the kind to errors.Is and errors.As.
func (e *ItemError) Unwrap() error { return e.Kind }

var kindNames = map[error]string{ErrBadItem: "bad_item", ErrInternal: "internal", ErrPoison: "poison", ErrUnavailable: "unavailable"}

func errorToProto(err error) *pb.ItemError {
	kind := "internal"
	msg := err.Error()
	var ie *ItemError
	if errors.As(err, &ie) {
		if k, ok := kindNames[ie.Kind]; ok {
			kind = k
		}
		msg = ie.Reason
	}
	return &pb.ItemError{Kind: kind, Message: msg}
}

func errorFromProto(id string, e *pb.ItemError) error {
	kind := ErrInternal
	for k, name := range kindNames {
		if name == e.GetKind() {
			kind = k
		}
	}
	return &ItemError{Item: id, Kind: kind, Reason: e.GetMessage()}
}

// Description is what a plugin publishes about itself.
type Description struct {
	Name         string      `json:"name,omitempty"`
	Version      string      `json:"version,omitempty"`
	Models       []ModelInfo `json:"models,omitempty"`
	Capabilities []string    `json:"capabilities,omitempty"`
	// Protocol is the negotiated handshake version; set by the host, not sent.
	Protocol int `json:"protocol,omitempty"`
}

// ModelInfo is one model a plugin offers.
type ModelInfo struct {
	Name        string        `json:"name,omitempty"`
	Description string        `json:"description,omitempty"`
	Tasks       []Task        `json:"tasks,omitempty"`
	Config      []ConfigField `json:"config,omitempty"`
	Resources   Resources     `json:"resources,omitempty"`
	MaxBatch    int           `json:"max_batch,omitempty"`
}

// Task is one task of a model with its input and output contracts.
type Task struct {
	Name        string   `json:"name,omitempty"`
	Description string   `json:"description,omitempty"`
	Input       Contract `json:"input,omitempty"`
	Output      Contract `json:"output,omitempty"`
}

// Contract lists accepted modalities (empty: any) and fields.
type Contract struct {
	Modalities []string    `json:"modalities,omitempty"`
	Fields     []FieldSpec `json:"fields,omitempty"`
}

// FieldSpec describes one field. Kind is string, float, int, bool, bytes, strings,
// floats, tensor, list or any; for tensors DType ("" any) and Shape, one symbolic
// dimension per entry ("N", "3", "?").
type FieldSpec struct {
	Name        string   `json:"name,omitempty"`
	Kind        string   `json:"kind,omitempty"`
	DType       string   `json:"dtype,omitempty"`
	Shape       []string `json:"shape,omitempty"`
	Optional    bool     `json:"optional,omitempty"`
	Description string   `json:"description,omitempty"`
}

// ConfigField is one key of a model's config schema. Type is string, int, float,
// bool, strings, floats or any.
type ConfigField struct {
	Name        string   `json:"name,omitempty"`
	Type        string   `json:"type,omitempty"`
	Default     any      `json:"default,omitempty"`
	Required    bool     `json:"required,omitempty"`
	Description string   `json:"description,omitempty"`
	Enum        []string `json:"enum,omitempty"`
}

// Resources says what one instance needs.
type Resources struct {
	Devices []string `json:"devices,omitempty"`
	Memory  int64    `json:"memory,omitempty"`
}

// FindModel returns the model named name.
func (d *Description) FindModel(name string) (*ModelInfo, bool) {
	for i := range d.Models {
		if d.Models[i].Name == name {
			return &d.Models[i], true
		}
	}
	return nil, false
}

// FindTask returns the task named name.
func (m *ModelInfo) FindTask(name string) (*Task, bool) {
	for i := range m.Tasks {
		if m.Tasks[i].Name == name {
			return &m.Tasks[i], true
		}
	}
	return nil, false
}

// HasCapability reports whether the plugin published capability c.
func (d *Description) HasCapability(c string) bool {
	for _, x := range d.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

// DescriptionToProto encodes d.
func DescriptionToProto(d *Description) (*pb.DescribeResponse, error) {
	out := &pb.DescribeResponse{Name: d.Name, Version: d.Version, Capabilities: d.Capabilities}
	for _, m := range d.Models {
		pm := &pb.ModelInfo{Name: m.Name, Description: m.Description, MaxBatch: int32(m.MaxBatch),
			Resources: &pb.Resources{Devices: m.Resources.Devices, MemoryBytes: m.Resources.Memory}}
		for _, t := range m.Tasks {
			pm.Tasks = append(pm.Tasks, &pb.TaskInfo{Name: t.Name, Description: t.Description,
				Input: contractToProto(t.Input), Output: contractToProto(t.Output)})
		}
		for _, c := range m.Config {
			pc := &pb.ConfigField{Name: c.Name, Type: c.Type, Required: c.Required, Description: c.Description, Enum: c.Enum}
			if c.Default != nil {
				b, err := json.Marshal(c.Default)
				if err != nil {
					return nil, fmt.Errorf("model %s: config %s: default: %w", m.Name, c.Name, err)
				}
				pc.DefaultJson = string(b)
			}
			pm.Config = append(pm.Config, pc)
		}
		out.Models = append(out.Models, pm)
	}
	return out, nil
}

// DescriptionFromProto decodes a Describe response.
func DescriptionFromProto(r *pb.DescribeResponse) (*Description, error) {
	d := &Description{Name: r.GetName(), Version: r.GetVersion(), Capabilities: r.GetCapabilities()}
	for _, pm := range r.GetModels() {
		m := ModelInfo{Name: pm.GetName(), Description: pm.GetDescription(), MaxBatch: int(pm.GetMaxBatch()),
			Resources: Resources{Devices: pm.GetResources().GetDevices(), Memory: pm.GetResources().GetMemoryBytes()}}
		for _, pt := range pm.GetTasks() {
			m.Tasks = append(m.Tasks, Task{Name: pt.GetName(), Description: pt.GetDescription(),
				Input: contractFromProto(pt.GetInput()), Output: contractFromProto(pt.GetOutput())})
		}
		for _, pc := range pm.GetConfig() {
			c := ConfigField{Name: pc.GetName(), Type: pc.GetType(), Required: pc.GetRequired(), Description: pc.GetDescription(), Enum: pc.GetEnum()}
			if s := pc.GetDefaultJson(); s != "" {
				if err := json.Unmarshal([]byte(s), &c.Default); err != nil {
					return nil, fmt.Errorf("model %s: config %s: default %q: %w", m.Name, c.Name, s, err)
				}
			}
			m.Config = append(m.Config, c)
		}
		d.Models = append(d.Models, m)
	}
	return d, nil
}

func contractToProto(c Contract) *pb.Contract {
	out := &pb.Contract{Modalities: c.Modalities}
	for _, f := range c.Fields {
		out.Fields = append(out.Fields, &pb.FieldSpec{Name: f.Name, Kind: f.Kind, Dtype: f.DType, Shape: f.Shape, Optional: f.Optional, Description: f.Description})
	}
	return out
}

func contractFromProto(c *pb.Contract) Contract {
	out := Contract{Modalities: c.GetModalities()}
	for _, f := range c.GetFields() {
		out.Fields = append(out.Fields, FieldSpec{Name: f.GetName(), Kind: f.GetKind(), DType: f.GetDtype(), Shape: f.GetShape(), Optional: f.GetOptional(), Description: f.GetDescription()})
	}
	return out
}
