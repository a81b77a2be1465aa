package surface_test

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// specRef matches what the exported docs must not contain: requirement IDs
// of the spec (TIME-4, WIRE-21, RTYPE-7), its section signs and its file
// names. Those belong in tests and internal comments; a pkg.go.dev reader
// has no spec at hand.
var specRef = regexp.MustCompile(`\b[A-Z][A-Z0-9]{1,7}-\d+\b|§|\bwire\.md\b|\bspec\.md\b`)

// notSpecRefs are names of that shape that are not requirement IDs.
var notSpecRefs = map[string]bool{"SHA-1": true, "UTF-8": true, "UTF-16": true}

// TestExportedDocsCiteNoSpecIDs reads the doc comments of every exported
// name (package, types, fields, funcs, methods, consts, vars, and the
// entries of grouped const and var blocks with their line comments) of
// every public package of the repository, nested modules included, and
// fails on a spec reference.
func TestExportedDocsCiteNoSpecIDs(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		base := d.Name()
		if rel != "." && (strings.HasPrefix(base, ".") || base == "testdata" || base == "node_modules" || base == "internal" ||
			base == "cmd" || base == "examples" || base == "interop") {
			return filepath.SkipDir
		}
		// Nested modules (middleware/otel, ...) are read too: their
		// sources are parsed, not built, so their dependencies do not matter.
		fset := token.NewFileSet()
		pkgs, err := parseDir(fset, path)
		if err != nil {
			t.Errorf("parse %s: %v", rel, err)
			return nil
		}
		for name, files := range pkgs {
			if name == "main" {
				continue
			}
			p, err := doc.NewFromFiles(fset, files, rel)
			if err != nil {
				t.Errorf("doc %s: %v", rel, err)
				continue
			}
			for where, text := range exportedDocs(p) {
				for _, m := range specRef.FindAllString(text, -1) {
					if !notSpecRefs[m] {
						t.Errorf("%s/%s: exported doc cites %q", rel, where, m)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// parseDir parses the non-test Go files of dir, with their comments, and
// groups them by package name (what the deprecated parser.ParseDir did).
func parseDir(fset *token.FileSet, dir string) (map[string][]*ast.File, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	pkgs := map[string][]*ast.File{}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		pkgs[f.Name.Name] = append(pkgs[f.Name.Name], f)
	}
	return pkgs, nil
}

// exportedDocs returns the doc comments of p's exported names by name.
func exportedDocs(p *doc.Package) map[string]string {
	docs := map[string]string{"package " + p.Name: p.Doc}
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			docs[strings.Join(v.Names, ",")] = v.Doc
			// In a grouped var or const block, v.Doc is the group's doc;
			// each entry's own doc and line comment are shown too.
			for _, spec := range v.Decl.Specs {
				vs, ok := spec.(*ast.ValueSpec)
				if !ok {
					continue
				}
				for _, n := range vs.Names {
					if n.IsExported() {
						docs[n.Name] += vs.Doc.Text() + vs.Comment.Text()
					}
				}
			}
		}
	}
	funcs := func(prefix string, fs []*doc.Func) {
		for _, f := range fs {
			docs[prefix+f.Name] = f.Doc
		}
	}
	values(p.Consts)
	values(p.Vars)
	funcs("", p.Funcs)
	for _, t := range p.Types {
		docs[t.Name] = t.Doc
		values(t.Consts)
		values(t.Vars)
		funcs("", t.Funcs)
		funcs(t.Name+".", t.Methods)
		for _, spec := range t.Decl.Specs {
			ts, ok := spec.(*ast.TypeSpec)
			if !ok {
				continue
			}
			var fields *ast.FieldList
			switch x := ts.Type.(type) {
			case *ast.StructType:
				fields = x.Fields
			case *ast.InterfaceType:
				fields = x.Methods
			}
			if fields == nil {
				continue
			}
			for _, f := range fields.List {
				for _, n := range f.Names {
					if n.IsExported() {
						docs[t.Name+"."+n.Name] = f.Doc.Text() + f.Comment.Text()
					}
				}
			}
		}
	}
	return docs
}
