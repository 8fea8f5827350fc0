package pipeline

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The when: grammar decides per item whether a stage runs. It is deliberately small:
//
//	expr     = or
//	or       = and { "or" and }
//	and      = unary { "and" unary }
//	unary    = "not" unary | primary
//	primary  = "(" expr ")"
//	         | "has" "(" FIELD ")"                  field is present
//	         | FIELD ( "==" | "!=" | "<" | "<=" | ">" | ">=" ) LITERAL
//	         | FIELD [ "not" ] "in" "[" [ LITERAL { "," LITERAL } ] "]"
//	         | MODALITY                              image, audio, text, tensor, mixed
//	         | FIELD                                 field is present
//	LITERAL  = STRING | NUMBER | "true" | "false"    strings in "double" or 'single' quotes
//	FIELD    = a name of letters, digits, "_", "-" and ".", such as lang or classify.label
//
// A bare modality word tests the item's modality; the same word before an operator, or
// inside has(), is a field ("text == \"hi\"", "has(text)"). The pseudo-field modality
// holds the item's modality ("modality in [\"image\", \"audio\"]"). A comparison needs
// the field to be present: on a missing field every comparison, != included, is false.
// A string field compared with a number is read as a number when it parses as one
// (CSV manifests carry every field as text); otherwise values of different types are
// unequal and unordered. Strings order bytewise.

// Env is what an expression is evaluated against: one item.
type Env interface {
	Modality() string
	Field(name string) (any, bool)
}

// Modalities are the words a bare expression may test.
var Modalities = []string{"image", "audio", "text", "tensor", "mixed"}

type exprOp uint8

const (
	opOr exprOp = iota
	opAnd
	opNot
	opModality
	opHas
	opCmp
	opIn
)

// Expr is a parsed when: expression. The nil *Expr matches every item.
type Expr struct {
	op    exprOp
	kids  []*Expr
	field string // opHas, opCmp, opIn; the modality word for opModality
	cmp   string // opCmp
	lit   any    // opCmp: string, float64 or bool
	list  []any  // opIn
	col   int    // 1-based column of the field or word, for diagnostics
	src   string
}

// WhenError is a syntax error at a 1-based character column inside the expression.
type WhenError struct {
	Col int
	Msg string
}

func (e *WhenError) Error() string { return fmt.Sprintf("column %d: %s", e.Col, e.Msg) }

// ParseWhen parses a when: expression; "" (or only spaces) gives nil, which matches all.
func ParseWhen(s string) (*Expr, error) {
	p := &whenParser{src: s}
	if err := p.lex(); err != nil {
		return nil, err
	}
	if len(p.toks) == 1 { // only EOF
		return nil, nil
	}
	e, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t, "unexpected %s", t.desc())
	}
	e.src = strings.TrimSpace(s)
	return e, nil
}

// String returns the expression as written.
func (e *Expr) String() string {
	if e == nil {
		return ""
	}
	return e.src
}

// Fields lists the fields the expression reads (has, comparisons, bare presence), in
// order of appearance; the loader uses it to find stage dependencies.
func (e *Expr) Fields() []string {
	var out []string
	for _, r := range e.fieldRefs() {
		out = append(out, r.name)
	}
	return out
}

type fieldRef struct {
	name string
	col  int
}

func (e *Expr) fieldRefs() []fieldRef {
	var out []fieldRef
	var walk func(*Expr)
	walk = func(x *Expr) {
		if x == nil {
			return
		}
		switch x.op {
		case opHas, opCmp, opIn:
			if x.field != "modality" {
				out = append(out, fieldRef{x.field, x.col})
			}
		}
		for _, k := range x.kids {
			walk(k)
		}
	}
	walk(e)
	return out
}

// Match evaluates the expression for one item; nil matches everything.
func (e *Expr) Match(env Env) bool {
	if e == nil {
		return true
	}
	switch e.op {
	case opOr:
		for _, k := range e.kids {
			if k.Match(env) {
				return true
			}
		}
		return false
	case opAnd:
		for _, k := range e.kids {
			if !k.Match(env) {
				return false
			}
		}
		return true
	case opNot:
		return !e.kids[0].Match(env)
	case opModality:
		return env.Modality() == e.field
	}
	v, ok := lookup(env, e.field)
	switch e.op {
	case opHas:
		return ok
	case opCmp:
		return ok && compare(v, e.cmp, e.lit)
	case opIn:
		if !ok {
			return false
		}
		for _, l := range e.list {
			if compare(v, "==", l) {
				return e.cmp == "in"
			}
		}
		return e.cmp == "not in"
	}
	return false
}

func lookup(env Env, field string) (any, bool) {
	if field == "modality" {
		return env.Modality(), true
	}
	v, ok := env.Field(field)
	return v, ok && v != nil
}

// compare applies op to a field value and a literal (string, float64 or bool).
func compare(v any, op string, lit any) bool {
	var c int
	switch l := lit.(type) {
	case float64:
		f, ok := toNumber(v)
		if !ok {
			return op == "!="
		}
		switch {
		case f < l:
			c = -1
		case f > l:
			c = 1
		case f != l: // NaN
			return op == "!="
		}
	case string:
		s, ok := v.(string)
		if !ok {
			return op == "!="
		}
		c = strings.Compare(s, l)
	case bool:
		b, ok := v.(bool)
		if !ok || (op != "==" && op != "!=") {
			return op == "!="
		}
		if b != l {
			c = 1
		}
	}
	switch op {
	case "==":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

func toNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && !math.IsNaN(f)
	case fmt.Stringer: // json.Number and friends
		f, err := strconv.ParseFloat(x.String(), 64)
		return f, err == nil
	}
	return 0, false
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tOp    // == != < <= > >=
	tPunct // ( ) [ ] ,
)

type token struct {
	kind tokKind
	text string // ident, operator, punctuation; the decoded string for tString
	num  float64
	col  int // 1-based character column
}

func (t token) desc() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return strconv.Quote(t.text)
	}
	return strconv.Quote(t.text)
}

type whenParser struct {
	src  string
	toks []token
	pos  int
}

func (p *whenParser) errAt(t token, format string, args ...any) *WhenError {
	return &WhenError{Col: t.col, Msg: fmt.Sprintf(format, args...)}
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || c >= '0' && c <= '9' || c == '-' || c == '.' }

func (p *whenParser) lex() error {
	s := p.src
	col := func(i int) int { return utf8.RuneCountInString(s[:i]) + 1 }
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			p.toks = append(p.toks, token{kind: tIdent, text: s[i:j], col: col(i)})
			i = j
		case c >= '0' && c <= '9' || (c == '-' || c == '+' || c == '.') && i+1 < len(s) && (s[i+1] >= '0' && s[i+1] <= '9' || s[i+1] == '.'):
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
				(s[j] == '-' || s[j] == '+') && (s[j-1] == 'e' || s[j-1] == 'E')) {
				j++
			}
			f, err := strconv.ParseFloat(s[i:j], 64)
			if err != nil || math.IsInf(f, 0) {
				return &WhenError{Col: col(i), Msg: fmt.Sprintf("invalid number %q", s[i:j])}
			}
			p.toks = append(p.toks, token{kind: tNumber, text: s[i:j], num: f, col: col(i)})
			i = j
		case c == '"' || c == '\'':
			j := i + 1
			var b strings.Builder
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
					switch s[j] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case '\\', '"', '\'':
						b.WriteByte(s[j])
					default:
						return &WhenError{Col: col(j - 1), Msg: fmt.Sprintf("unknown escape \\%c in string", s[j])}
					}
					continue
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return &WhenError{Col: col(i), Msg: "unterminated string"}
			}
			p.toks = append(p.toks, token{kind: tString, text: b.String(), col: col(i)})
			i = j + 1
		case c == '=' || c == '!' || c == '<' || c == '>':
			op := string(c)
			if i+1 < len(s) && s[i+1] == '=' {
				op += "="
			}
			if op == "=" || op == "!" {
				hint := map[string]string{"=": `"=="`, "!": `"!=" or "not"`}[op]
				return &WhenError{Col: col(i), Msg: fmt.Sprintf("unexpected %q (did you mean %s?)", op, hint)}
			}
			p.toks = append(p.toks, token{kind: tOp, text: op, col: col(i)})
			i += len(op)
		case c == '(' || c == ')' || c == '[' || c == ']' || c == ',':
			p.toks = append(p.toks, token{kind: tPunct, text: string(c), col: col(i)})
			i++
		case c == '&' || c == '|':
			w := map[byte]string{'&': "and", '|': "or"}[c]
			return &WhenError{Col: col(i), Msg: fmt.Sprintf("unexpected %q (write %q)", string(c), w)}
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			return &WhenError{Col: col(i), Msg: fmt.Sprintf("unexpected character %q", r)}
		}
	}
	p.toks = append(p.toks, token{kind: tEOF, col: utf8.RuneCountInString(s) + 1})
	return nil
}

func (p *whenParser) peek() token { return p.toks[p.pos] }
func (p *whenParser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}
func (p *whenParser) isWord(w string) bool {
	t := p.peek()
	return t.kind == tIdent && t.text == w
}
func (p *whenParser) isPunct(w string) bool {
	t := p.peek()
	return t.kind == tPunct && t.text == w
}

// maxWhenDepth stops "((((((" from exhausting the stack.
const maxWhenDepth = 100

func (p *whenParser) or(depth int) (*Expr, error) {
	if depth > maxWhenDepth {
		return nil, p.errAt(p.peek(), "expression nested too deeply")
	}
	first, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	kids := []*Expr{first}
	for p.isWord("or") {
		p.next()
		k, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		kids = append(kids, k)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &Expr{op: opOr, kids: kids}, nil
}

func (p *whenParser) and(depth int) (*Expr, error) {
	first, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	kids := []*Expr{first}
	for p.isWord("and") {
		p.next()
		k, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		kids = append(kids, k)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &Expr{op: opAnd, kids: kids}, nil
}

func (p *whenParser) unary(depth int) (*Expr, error) {
	if p.isWord("not") {
		p.next()
		if depth > maxWhenDepth {
			return nil, p.errAt(p.peek(), "expression nested too deeply")
		}
		k, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &Expr{op: opNot, kids: []*Expr{k}}, nil
	}
	return p.primary(depth)
}

var reserved = map[string]bool{"and": true, "or": true, "not": true, "in": true, "has": true, "true": true, "false": true}

func (p *whenParser) primary(depth int) (*Expr, error) {
	t := p.next()
	switch {
	case t.kind == tPunct && t.text == "(":
		e, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if !p.isPunct(")") {
			return nil, p.errAt(p.peek(), "expected \")\" to close the \"(\" at column %d, got %s", t.col, p.peek().desc())
		}
		p.next()
		return e, nil
	case t.kind == tIdent && t.text == "has":
		if !p.isPunct("(") {
			return nil, p.errAt(p.peek(), "expected \"(\" after has, got %s", p.peek().desc())
		}
		p.next()
		f := p.next()
		if f.kind != tIdent || reserved[f.text] {
			return nil, p.errAt(f, "expected a field name in has(), got %s", f.desc())
		}
		if !p.isPunct(")") {
			return nil, p.errAt(p.peek(), "expected \")\" after has(%s, got %s", f.text, p.peek().desc())
		}
		p.next()
		return &Expr{op: opHas, field: f.text, col: f.col}, nil
	case t.kind == tIdent && !reserved[t.text]:
	default:
		return nil, p.errAt(t, "expected a modality, a field, has(...), \"not\" or \"(\", got %s", t.desc())
	}
	// t is a field or a modality word.
	switch n := p.peek(); {
	case n.kind == tOp:
		p.next()
		lit, err := p.literal()
		if err != nil {
			return nil, err
		}
		if _, isBool := lit.(bool); isBool && n.text != "==" && n.text != "!=" {
			return nil, p.errAt(n, "%s cannot compare true or false; use == or !=", n.text)
		}
		return &Expr{op: opCmp, field: t.text, cmp: n.text, lit: lit, col: t.col}, nil
	case p.isWord("in") || p.isWord("not") && p.pos+1 < len(p.toks) && p.toks[p.pos+1].kind == tIdent && p.toks[p.pos+1].text == "in":
		op := "in"
		if p.next().text == "not" {
			p.next()
			op = "not in"
		}
		list, err := p.list()
		if err != nil {
			return nil, err
		}
		return &Expr{op: opIn, field: t.text, cmp: op, list: list, col: t.col}, nil
	}
	for _, m := range Modalities {
		if t.text == m {
			return &Expr{op: opModality, field: m, col: t.col}, nil
		}
	}
	return &Expr{op: opHas, field: t.text, col: t.col}, nil
}

func (p *whenParser) literal() (any, error) {
	t := p.next()
	switch {
	case t.kind == tString:
		return t.text, nil
	case t.kind == tNumber:
		return t.num, nil
	case t.kind == tIdent && (t.text == "true" || t.text == "false"):
		return t.text == "true", nil
	case t.kind == tIdent:
		return nil, p.errAt(t, "expected a value, got %s (quote strings: \"%s\")", t.desc(), t.text)
	}
	return nil, p.errAt(t, "expected a value (a \"string\", a number, true or false), got %s", t.desc())
}

func (p *whenParser) list() ([]any, error) {
	open := p.next()
	if open.kind != tPunct || open.text != "[" {
		return nil, p.errAt(open, "expected \"[\" after in, got %s", open.desc())
	}
	var out []any
	if p.isPunct("]") {
		p.next()
		return out, nil
	}
	for {
		lit, err := p.literal()
		if err != nil {
			return nil, err
		}
		out = append(out, lit)
		t := p.next()
		if t.kind == tPunct && t.text == "]" {
			return out, nil
		}
		if t.kind != tPunct || t.text != "," {
			return nil, p.errAt(t, "expected \",\" or \"]\" in the list opened at column %d, got %s", open.col, t.desc())
		}
	}
}
