let n = "x"; in [ ./a/${n} ./${n}/b ./a${n} ~/${n} /${n} ./a/${n}/c/${n}d ]
