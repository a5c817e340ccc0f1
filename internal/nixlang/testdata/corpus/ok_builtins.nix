[ builtins.map map toString import throw abort baseNameOf derivation true false null __sub __add removeAttrs fetchTarball ]
