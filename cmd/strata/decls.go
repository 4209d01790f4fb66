package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/strata-data/strata/asset"
)

// loadDecls reads declarations from a YAML file or from every *.yaml/*.yml
// file of a directory.
func loadDecls(path string) (*asset.File, *asset.Source, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, usageError(fmt.Errorf("read declarations: %w", err))
	}
	var files []asset.SourceFile
	if st.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, nil, usageError(fmt.Errorf("read declarations: %w", err))
		}
		for _, e := range entries { // in name order
			if e.IsDir() || !asset.IsDeclFileName(e.Name()) {
				continue
			}
			files = append(files, asset.SourceFile{Name: filepath.Join(path, e.Name())})
		}
		if len(files) == 0 {
			return nil, nil, usageErrorf("read declarations: no *.yaml or *.yml files in %s", path)
		}
	} else {
		files = []asset.SourceFile{{Name: path}}
	}
	for i := range files {
		data, err := os.ReadFile(files[i].Name)
		if err != nil {
			return nil, nil, usageError(fmt.Errorf("read declarations: %w", err))
		}
		files[i].Data = data
	}
	f, src, err := asset.ParseFiles(files)
	if err != nil {
		return nil, nil, usageError(err)
	}
	return f, src, nil
}

// loadGraph reads declarations and builds the asset graph; every problem is
// reported with its file, line and column.
func loadGraph(path string) (*asset.Graph, error) {
	f, src, err := loadDecls(path)
	if err != nil {
		return nil, err
	}
	g, err := asset.NewGraph(f.Assets)
	if err != nil {
		return nil, usageError(src.Locate(err))
	}
	return g, nil
}
