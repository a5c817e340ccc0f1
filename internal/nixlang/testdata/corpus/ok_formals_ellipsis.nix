{ pkgs, lib ? null, ... }@args: args // { inherit pkgs lib; }
