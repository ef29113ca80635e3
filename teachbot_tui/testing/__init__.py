"""What the tests and the scripts both build: real documents of every format and the test
corpora made of them (good and hostile). Never imported by the app itself."""
