// Command validate reads Kubernetes manifests (the output of `helm template`, several YAML
// documents) and decodes each one strictly into its Go API type, as the API server would:
// an unknown or misspelt field, a duplicate key, a wrong type ("3" for an int), a bad quantity or
// an unregistered kind fails. Then it checks that the objects refer to each other correctly
// (selectors, scale targets, probe and monitor ports), which no single object shows.
//
//	helm template parley deploy/helm/parley | validate        exit 0: every document passed
//	validate rendered.yaml …                                  the same for files
//
// It prints one line per object (kind/name) on stdout and the problems on stderr, exit 1.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

func main() {
	var inputs []io.Reader
	if len(os.Args) > 1 {
		for _, path := range os.Args[1:] {
			f, err := os.Open(path)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			defer f.Close()
			inputs = append(inputs, f)
		}
	} else {
		inputs = append(inputs, os.Stdin)
	}
	var objs []object
	var problems []string
	for _, in := range inputs {
		docs, err := splitDocuments(in)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		for _, doc := range docs {
			obj, err := decode(doc)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", doc.source, err))
				continue
			}
			objs = append(objs, obj)
		}
	}
	// References are checked only between objects that all decoded: one that failed would show
	// up again as every selector and scale target pointing at it.
	if len(problems) == 0 {
		problems = crossCheck(objs)
	}
	for _, o := range objs {
		fmt.Printf("%s/%s\n", o.kind, o.name)
	}
	if len(objs) == 0 && len(problems) == 0 {
		problems = append(problems, "no Kubernetes objects in the input")
	}
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(os.Stderr, "%d problem(s) in %d object(s)\n", len(problems), len(objs))
		os.Exit(1)
	}
}

// document is one YAML document and where it came from (helm's "# Source:" comment, or its index).
type document struct {
	source string
	body   []byte
}

// splitDocuments cuts a YAML stream at its "---" lines and drops documents holding only comments.
func splitDocuments(r io.Reader) ([]document, error) {
	var docs []document
	var cur bytes.Buffer
	source := ""
	flush := func() {
		body := bytes.TrimSpace(cur.Bytes())
		if hasContent(body) {
			name := source
			if name == "" {
				name = fmt.Sprintf("document %d", len(docs)+1)
			}
			docs = append(docs, document{source: name, body: append([]byte(nil), body...)})
		}
		cur.Reset()
		source = ""
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "---" || strings.HasPrefix(line, "--- ") {
			flush()
			continue
		}
		if strings.HasPrefix(line, "# Source: ") && source == "" {
			source = strings.TrimPrefix(line, "# Source: ")
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	flush()
	return docs, sc.Err()
}

func hasContent(body []byte) bool {
	for _, line := range strings.Split(string(body), "\n") {
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "#") {
			return true
		}
	}
	return false
}

// decode turns one document into its typed object, refusing what the API server would refuse.
func decode(doc document) (object, error) {
	// Strict: a key twice in one mapping is an error, as it is for kubectl and the API server.
	js, err := yaml.YAMLToJSONStrict(doc.body)
	if err != nil {
		return object{}, fmt.Errorf("not valid YAML: %w", err)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc.body, &head); err != nil {
		return object{}, err
	}
	if head.APIVersion == "" || head.Kind == "" {
		return object{}, errors.New("apiVersion and kind are required")
	}
	return decodeTyped(head.APIVersion, head.Kind, js)
}
