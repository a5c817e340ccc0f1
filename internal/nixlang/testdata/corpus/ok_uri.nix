[ https://example.org/a.tar.gz?x=1&y=2 mirror://gnu/hello x:y git+ssh://git@github.com/a/b.git ]
