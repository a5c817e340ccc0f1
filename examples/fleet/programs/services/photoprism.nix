# PhotoPrism, the photo library, as a NixOS service on port 2342. The admin
# password is an agenix secret, handed to the service as a credential.
{ config, ... }:
{
  age.secrets.photoprism-admin-password.file = ../../secrets/photoprism-admin-password.age;

  services.photoprism = {
    enable = true;
    address = "0.0.0.0";
    port = 2342;
    originalsPath = "/var/lib/photoprism/originals";
    passwordFile = config.age.secrets.photoprism-admin-password.path;
    settings = {
      PHOTOPRISM_ADMIN_USER = "admin";
      PHOTOPRISM_DEFAULT_LOCALE = "de";
    };
  };

  networking.firewall.allowedTCPPorts = [ 2342 ];
}
