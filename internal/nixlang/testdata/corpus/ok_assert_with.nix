let s = { a = 1; }; in assert s ? a; with s; a + undefinedButInWith
