[ "a\nb\tc\rd\\e\"f\$g\${h}" "$" "a$" "$$" "$${x}" "\${" "tab	raw" ]
