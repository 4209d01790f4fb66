// Package demo holds the declarations of Strata's demo (assets.yaml), embedded
// so that a built strata binary runs `strata demo` from anywhere. The jobs the
// assets run are in examples/jobs.
package demo

import (
	"bytes"
	_ "embed"
)

// AssetsFile is the path of the declarations in the repository.
const AssetsFile = "examples/demo/assets.yaml"

//go:embed assets.yaml
var assetsYAML []byte

// AssetsYAML returns the contents of examples/demo/assets.yaml.
func AssetsYAML() []byte { return bytes.Clone(assetsYAML) }
