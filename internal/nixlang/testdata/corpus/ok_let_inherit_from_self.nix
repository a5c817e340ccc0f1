let inherit ({ x = 1; }) x; y = x; in y
