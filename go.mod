module github.com/hepvault/hepvault

go 1.26
