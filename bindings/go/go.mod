module github.com/thetatree/thetatree/bindings/go

go 1.24
