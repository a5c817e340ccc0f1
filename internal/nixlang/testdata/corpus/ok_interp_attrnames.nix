let n = "x"; in { ${n} = 1; "${n}y" = 2; a.${n}.b = 3; "quoted" = 4; ${"static"} = 5; }
